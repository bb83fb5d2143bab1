/** `tf.errors.*`: every error foldflow throws carries a Diagnostic. */
export {
  OpError,
  InvalidArgumentError,
  FailedPreconditionError,
  NotFoundError,
  AlreadyExistsError,
  UnimplementedError,
  ResourceExhaustedError,
  InternalError,
  DataLossError,
  formatDiagnostic,
} from "../ir/diagnostics";
