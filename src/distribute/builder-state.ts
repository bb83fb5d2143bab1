/**
 * The graph's builder state — name scope, control-dependency blocks, cond hooks, variable
 * scopes — saved and restored around a switch between replicas. A replica suspended at a
 * cross-replica rendezvous sits inside its layers' scopes; the next replica must start from
 * the state `strategy.run` was called in, and the suspended one must get its own back.
 */
import type { Graph, OpCreationHook, Operation, VariableScopeState } from "../../ir/graph";

export interface BuilderState {
  readonly nameScope: string;
  readonly controlStack: Operation[][];
  readonly creationHooks: OpCreationHook[];
  readonly variableScopes: VariableScopeState[];
}

export function captureBuilderState(graph: Graph): BuilderState {
  return {
    nameScope: graph.nameScopeValue,
    controlStack: [...graph.controlStack],
    creationHooks: [...graph.creationHooks],
    variableScopes: [...graph.variableScopes],
  };
}

export function restoreBuilderState(graph: Graph, state: BuilderState): void {
  graph.nameScopeValue = state.nameScope;
  graph.controlStack.splice(0, graph.controlStack.length, ...state.controlStack);
  graph.creationHooks.splice(0, graph.creationHooks.length, ...state.creationHooks);
  graph.variableScopes.splice(0, graph.variableScopes.length, ...state.variableScopes);
}
