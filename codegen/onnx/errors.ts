/** The errors of the ONNX exporter: each names the node and says what to do. */
import { UnimplementedError } from "../../ir/diagnostics";
import type { Operation } from "../../ir/graph";

/** `op` cannot be exported as it is: `reason` says why. */
export function unimplemented(op: Operation, reason: string, fix: string): UnimplementedError {
  return new UnimplementedError({
    code: "onnx-unsupported",
    node: op.name,
    message: `cannot export \`${op.name}\` (${op.type}) to ONNX: ${reason}`,
    fix,
  });
}
