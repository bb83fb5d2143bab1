/**
 * Progress of a long command: a cli-progress bar on stderr when it is a terminal, otherwise
 * (pipes, CI, tests) one plain line per step on stdout: `[2/4] folding batch norms`.
 */
import type { SingleBar } from "cli-progress";

export interface Output {
  out: (line: string) => void;
  err: (line: string) => void;
}

export class Progress {
  private done = 0;

  private constructor(
    private readonly total: number,
    private readonly output: Output,
    private readonly bar: SingleBar | null,
    private readonly quiet: boolean,
  ) {}

  /** A bar when stderr is a terminal (and not quiet), plain lines otherwise. */
  static async create(total: number, output: Output, options: { tty?: boolean; quiet?: boolean } = {}): Promise<Progress> {
    const quiet = options.quiet === true;
    const tty = options.tty ?? process.stderr.isTTY === true;
    let bar: SingleBar | null = null;
    if (tty && !quiet) {
      const cliProgress = (await import("cli-progress")).default;
      bar = new cliProgress.SingleBar(
        { format: "{bar} {value}/{total} {step}", stream: process.stderr, hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { step: "" });
    }
    return new Progress(total, output, bar, quiet);
  }

  /** Starts step `label` (the previous one is complete). */
  step(label: string): void {
    this.done++;
    if (this.bar) this.bar.update(this.done - 1, { step: label });
    else if (!this.quiet) this.output.out(`[${this.done}/${this.total}] ${label}`);
  }

  /** Stops the bar (on success and on failure). */
  stop(): void {
    if (!this.bar) return;
    this.bar.update(this.total, { step: "" });
    this.bar.stop();
  }
}

/** Runs `fn` with a progress reporter that is stopped however `fn` ends. */
export async function withProgress<T>(total: number, output: Output, quiet: boolean, fn: (p: Progress) => Promise<T> | T): Promise<T> {
  const p = await Progress.create(total, output, { quiet });
  try {
    return await fn(p);
  } finally {
    p.stop();
  }
}
