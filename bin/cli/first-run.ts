import { relative } from 'node:path';
import { Worker } from 'node:worker_threads';
import { userCacheDir } from '../../runtime/util/user-cache.ts';

/**
 * One frame of the spinner, from the time since it started: a carriage return, the frame, the message and
 * the seconds so far, and an erase to the end of the line. It runs on a worker thread from its own source
 * text (see `startSpinner`), so it must use nothing from outside its body.
 */
export function spinnerFrame(message: string, elapsedMs: number, intervalMs: number): string {
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  const frame = frames[Math.floor(elapsedMs / intervalMs) % frames.length];
  return `\r${frame} ${message}  ${Math.floor(elapsedMs / 1000)} s\u001b[K`;
}

const SPINNER_MS = 100;

/**
 * A spinner on a worker thread, writing straight to the terminal's file descriptor: creating the embedded
 * database runs initdb in WebAssembly on the main thread, which holds it for eight seconds and more at a
 * time, so a timer there would freeze. Stopping clears the line.
 */
function startSpinner(fd: number, message: string): () => Promise<void> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { writeSync } = require('node:fs');
    const frame = ${spinnerFrame.toString()};
    const started = Date.now();
    const tick = () => writeSync(workerData.fd, frame(workerData.message, Date.now() - started, workerData.ms));
    tick();
    const timer = setInterval(tick, workerData.ms);
    parentPort.once('message', () => {
      clearInterval(timer);
      writeSync(workerData.fd, '\\r\\u001b[K');
      parentPort.close();
    });`;
  const worker = new Worker(source, { eval: true, workerData: { fd, message, ms: SPINNER_MS } });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return async () => {
    worker.postMessage('stop');
    await exited;
  };
}

export interface FirstRunNotice {
  /** Ends the notice: a line saying how long it took when the database was made, nothing when it failed. */
  stop(created: boolean): Promise<void>;
}

/** `.strata` for a home under the working directory, the full path elsewhere. */
function shown(home: string): string {
  const r = relative(process.cwd(), home);
  return r && !r.startsWith('..') ? r : home;
}

/**
 * Tells people what the first command does while the embedded database is created: a spinner on a
 * terminal, a plain line otherwise (logs, CI). Always on stderr, so stdout stays clean for --json. Only the
 * first run of an installed version is slow, making the prepared image (`imageReady` false) the others copy.
 */
export function firstRunNotice(
  home: string,
  imageReady: boolean,
  stream: NodeJS.WriteStream & { fd?: number } = process.stderr,
): FirstRunNotice {
  const message = imageReady
    ? `creating the embedded database in ${shown(home)} from its prepared image (first run only)`
    : `creating the embedded database in ${shown(home)} (first run of this version: preparing its image in ${userCacheDir()}, about 15 s)`;
  const started = Date.now();
  const stopSpinner = stream.isTTY && stream.fd !== undefined ? startSpinner(stream.fd, message) : undefined;
  if (!stopSpinner) stream.write(`${message}\n`);
  return {
    async stop(created) {
      await stopSpinner?.();
      if (created)
        stream.write(`created the embedded database in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    },
  };
}
