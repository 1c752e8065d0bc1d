// A progress bar on an interactive terminal (cli-progress); silent when stderr is not a TTY (CI, pipes).
import cliProgress from "cli-progress";

export class Progress {
  private bar?: cliProgress.SingleBar;

  constructor(label: string, total: number) {
    if (!process.stderr.isTTY || total < 2) return;
    this.bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} {eta_formatted}`, stream: process.stderr, clearOnComplete: true, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0);
  }

  update(n: number): void {
    this.bar?.update(n);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
