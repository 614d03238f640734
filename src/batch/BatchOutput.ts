/**
 * Where `corral batch` writes its lines: the output in input order, and beside an output file the
 * sidecar of results that finished ahead (see resume.ts). Lines are written in chunks of
 * `BATCH_DEFAULTS.writeChunkBytes` or every `flushMs` (`flush()`), never one awaited write per line.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { BATCH_DEFAULTS } from '../limits/defaults.ts';
import { pendingFile, type Recorded } from './resume.ts';

export class BatchOutput {
  private out = '';
  private ahead = '';
  /** The next index the output needs: recorded results before a new line fill the gap up to it. */
  private next: number;
  private readonly outFd: number | undefined;
  private readonly aheadFd: number | undefined;
  /** Standard output was closed by its reader (`| head`): nothing more can be written, the run should stop. */
  broken = false;

  /**
   * `file` undefined: standard output, no sidecar (nothing to resume from). Otherwise the file is
   * appended to after `recorded.written` lines (`--resume`), or started afresh.
   */
  constructor(
    private readonly file: string | undefined,
    private readonly recorded: Recorded,
  ) {
    this.next = recorded.written;
    if (file !== undefined) {
      const fresh = recorded.written === 0 && recorded.pending.size === 0;
      if (fresh) rmSync(pendingFile(file), { force: true });
      this.outFd = openSync(file, fresh ? 'w' : 'a');
      this.aheadFd = openSync(pendingFile(file), 'a');
    } else {
      process.stdout.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE') throw error;
        this.broken = true;
      });
    }
  }

  /** A line in input order (its index is the next one not recorded). */
  line(index: number, text: string): void {
    this.fillTo(index);
    this.out += `${text}\n`;
    this.next = index + 1;
    if (this.out.length >= BATCH_DEFAULTS.writeChunkBytes) this.flush();
  }

  /** A result that finished ahead of an earlier input: recorded in the sidecar, so a kill does not lose it. */
  aheadLine(text: string): void {
    if (this.aheadFd === undefined) return;
    this.ahead += `${text}\n`;
    if (this.ahead.length >= BATCH_DEFAULTS.writeChunkBytes) this.flush();
  }

  /** Writes what is buffered: the sidecar first, so a result is never only in memory once the output moved past it. */
  flush(): void {
    if (this.ahead && this.aheadFd !== undefined) writeSync(this.aheadFd, this.ahead);
    this.ahead = '';
    if (!this.out) return;
    if (this.outFd !== undefined) writeSync(this.outFd, this.out);
    else if (!this.broken) process.stdout.write(this.out);
    this.out = '';
  }

  /** After the last input (`inputs` of them): the recorded results left, then the sidecar is removed. */
  finish(inputs: number): void {
    this.fillTo(inputs);
    this.flush();
    if (this.file === undefined) return;
    closeSync(this.outFd!);
    closeSync(this.aheadFd!);
    rmSync(pendingFile(this.file), { force: true });
  }

  /** Stops writing (an error): what is buffered is written, the sidecar kept for `--resume`. */
  close(): void {
    this.flush();
    if (this.outFd !== undefined) closeSync(this.outFd);
    if (this.aheadFd !== undefined) closeSync(this.aheadFd);
  }

  private fillTo(index: number): void {
    for (; this.next < index; this.next++) {
      const recorded = this.recorded.pending.get(this.next);
      // runBatch yields every input in order except those skipped as recorded: a gap is one of them.
      if (!recorded) throw new Error(`batch output: no result for input ${this.next}`);
      this.out += `${recorded.text}\n`;
    }
  }
}
