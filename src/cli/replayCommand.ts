/** `corral replay` (imported when the command runs: it loads the runtime). */
import { MAX_RECORDING_BYTES } from '../limits/defaults.ts';
import { FileRefused, readBoundedFile } from '../config/readBoundedFile.ts';
import { ReplayError } from '../replay/ReplayError.ts';
import { Runtime } from '../runtime/Runtime.ts';
import { decodeRecording } from '../replay/Recording.ts';
import { replay } from '../replay/replay.ts';
import { ArgumentError } from './jsonValues.ts';
import { EXIT_OK, EXIT_REPLAY_DIFFERS, EXIT_REPLAY_FAILED, print, reportFailure } from './commandOutput.ts';

/**
 * `corral replay`: runs a recording again (see src/replay/replay.ts) and prints one JSON line: the
 * counts and `identical`, or the first difference. Exit 0 when identical, 1 when not (or unusable input).
 */
export async function replayCommand(file: string, flags: { component: string[] }): Promise<number> {
  const runtime = new Runtime({ threads: 1 });
  try {
    let text: string;
    try {
      text = (await readBoundedFile(file, MAX_RECORDING_BYTES)).toString('utf8');
    } catch (cause) {
      if (!(cause instanceof FileRefused)) throw cause;
      throw new ReplayError('recording-refused', `cannot replay ${file}: ${cause.message}`, { source: file, reason: cause.reason }, cause);
    }
    const recording = decodeRecording(text, file);
    const names = Object.keys(recording.components);
    const components: Record<string, string> = {};
    for (const spec of flags.component) {
      const at = spec.indexOf('=');
      // `name=path`; a bare path stands for the recording's only component.
      if (at > 0) components[spec.slice(0, at)] = spec.slice(at + 1);
      else if (names.length === 1) components[names[0]!] = spec;
      else throw new ArgumentError(`--component ${spec}: the recording has components ${names.join(', ')}; write NAME=PATH`);
    }
    const report = await replay(recording, runtime, { components });
    print({ ok: report.identical, ...report });
    return report.identical ? EXIT_OK : EXIT_REPLAY_DIFFERS;
  } catch (error) {
    reportFailure(error);
    return EXIT_REPLAY_FAILED;
  } finally {
    await runtime.close();
  }
}
