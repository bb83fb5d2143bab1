#!/usr/bin/env node
// `npx foldflow ...`: loads the TypeScript CLI (cli/main.ts) through tsx's loader API.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./main.ts");
process.exitCode = await main(process.argv.slice(2));
