/**
 * Resource limits (see ir/graphdef/limits.ts for the GraphDef side): a Session refuses a feed
 * of more than maxElements elements, or feeds of more than maxTotalBytes together, before
 * converting or copying them. Sizes are read from the value's shape or length, never by
 * flattening it.
 */
import { Tensor } from "../ir/graph";
import { NDArray, type NestedArray } from "../ir/ndarray";
import { limitExceeded, type Limits } from "../ir/graphdef/limits";
import type { FeedDict, FeedValue } from "./runtime/feeds";

export { DEFAULT_LIMITS, resolveLimits, checkGraphDefLimits, checkTextLimits } from "../ir/graphdef/limits";
export type { Limits } from "../ir/graphdef/limits";

const SESSION_OPTIONS = "new tf.Session({ ...options, limits: LIMIT })";

/** Elements and bytes a feed value will take once converted (nested arrays: by their first rows). */
function feedSize(value: FeedValue): { elements: number; bytes: number } {
  if (value instanceof NDArray) return { elements: value.size, bytes: value.size * (value.dtype === "bool" ? 1 : 4) };
  if (ArrayBuffer.isView(value)) {
    const n = (value as unknown as ArrayLike<number>).length;
    return { elements: n, bytes: n * (value instanceof Uint8Array ? 1 : 4) };
  }
  let elements = 1;
  let v: NestedArray = value as NestedArray;
  while (Array.isArray(v)) {
    elements *= v.length;
    if (v.length === 0) break;
    v = v[0];
  }
  return { elements, bytes: elements * (typeof v === "boolean" ? 1 : 4) };
}

function keyName(key: Tensor | string): string {
  return key instanceof Tensor ? key.name : String(key);
}

/** Refuses feeds over the session's limits; runs before the feeds are converted. */
export function checkFeedLimits(feeds: FeedDict | undefined, limits: Limits): void {
  if (!feeds) return;
  const entries: [Tensor | string, FeedValue][] = feeds instanceof Map ? [...feeds.entries()] : Object.entries(feeds);
  let total = 0;
  for (const [key, value] of entries) {
    const { elements, bytes } = feedSize(value);
    if (elements > limits.maxElements)
      throw limitExceeded({
        code: "limit-feed-elements",
        node: keyName(key),
        message: `the value fed for \`${keyName(key)}\` has ${elements} elements, more than the limit of ${limits.maxElements} elements per tensor`,
        limit: "maxElements",
        value: limits.maxElements,
        needed: elements,
        where: SESSION_OPTIONS,
      });
    total += bytes;
  }
  if (total > limits.maxTotalBytes)
    throw limitExceeded({
      code: "limit-feed-bytes",
      message: `the feeds of this run take ${total} bytes together, more than the limit of ${limits.maxTotalBytes} bytes`,
      limit: "maxTotalBytes",
      value: limits.maxTotalBytes,
      needed: total,
      where: SESSION_OPTIONS,
    });
}
