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
