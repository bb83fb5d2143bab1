/**
 * One session's runs, one at a time. `sess.run` is async; a run that awaits (an asynchronous
 * backend reading back results) must not interleave with another run of the same session,
 * which would read and write the same variables between its steps. The queue starts a run at
 * once when none is in flight (so a synchronous run completes before `run` returns, and
 * un-awaited runs keep their order with `runSync`), and otherwise after the runs before it
 * have settled, in call order, whether they succeeded or failed.
 */
export class RunQueue {
  /** Settles when the last started run has settled; null when no run is in flight. */
  private tail: Promise<void> | null = null;

  /** Whether an asynchronous run is in flight. */
  get busy(): boolean {
    return this.tail !== null;
  }

  run<T>(task: () => T | PromiseLike<T>): Promise<T> {
    if (this.tail === null) {
      let result: T | PromiseLike<T>;
      try {
        result = task();
      } catch (e) {
        return Promise.reject(e);
      }
      return isThenable(result) ? this.track(Promise.resolve(result)) : Promise.resolve(result);
    }
    return this.track(this.tail.then(task));
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const tail: Promise<void> = p.then(settled, settled).then(() => {
      if (this.tail === tail) this.tail = null;
    });
    this.tail = tail;
    return p;
  }
}

function settled(): void {}

function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}
