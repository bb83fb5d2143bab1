/** Importing this module registers every op family. */
import "./constant";
import "./control";
import "./state";
import "./elementwise";
import "./random";
import "./array";
import "./reduce";
import "./matmul";
import "./gradient-support";
import "./pool";
import "./conv";
import "./nn";
import "./cross-entropy";
import "./training";
import "./batch-norm";
import "./batch-norm-global";
