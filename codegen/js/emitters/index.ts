/** Importing this module registers every JS emitter. */
import "./matmul";
import "./reduce";
import "./nn";
import "./state";
import "./conv";
import "./pool";
import "./batch-norm";
import "./array";
