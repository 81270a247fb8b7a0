import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firstRunNotice, spinnerFrame } from '../../bin/cli/first-run.ts';
import { userCacheDir } from '../../runtime/util/user-cache.ts';

/** A stand-in for stderr: what was written through `write`, and optionally a file as its descriptor. */
function fakeStream(tty: boolean, fd?: number) {
  const written: string[] = [];
  const stream = {
    isTTY: tty,
    fd,
    write: (s: string) => {
      written.push(s);
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

describe('first-run notice', () => {
  it('draws a frame from the time elapsed: the next frame every interval, whole seconds, the line erased after', () => {
    expect(spinnerFrame('creating', 0, 100)).toBe('\r⠋ creating  0 s\u001b[K');
    expect(spinnerFrame('creating', 150, 100)).toBe('\r⠙ creating  0 s\u001b[K');
    expect(spinnerFrame('creating', 1_999, 100)).toBe('\r⠏ creating  1 s\u001b[K');
    // After the tenth frame it starts again.
    expect(spinnerFrame('creating', 1_000, 100)).toBe('\r⠋ creating  1 s\u001b[K');
  });

  it('writes one plain line where stderr is not a terminal, and how long it took once done', async () => {
    const { stream, written } = fakeStream(false);
    const notice = firstRunNotice(join(process.cwd(), '.strata'), true, stream);
    expect(written).toEqual([
      'creating the embedded database in .strata from its prepared image (first run only)\n',
    ]);
    await notice.stop(true);
    expect(written[1]).toMatch(/^created the embedded database in \d+\.\d s\n$/);
  });

  it('says nothing more when the database could not be made', async () => {
    const { stream, written } = fakeStream(false);
    await firstRunNotice('/elsewhere/home', true, stream).stop(false);
    expect(written).toEqual([
      'creating the embedded database in /elsewhere/home from its prepared image (first run only)\n',
    ]);
  });

  it('says where the image is prepared, and that it takes a while, when this version has none yet', async () => {
    const { stream, written } = fakeStream(false);
    await firstRunNotice('/elsewhere/home', false, stream).stop(false);
    expect(written).toEqual([
      `creating the embedded database in /elsewhere/home (first run of this version: preparing its image in ${userCacheDir()}, about 15 s)\n`,
    ]);
  });

  it('spins on a terminal from a worker thread, writing to its descriptor, and clears the line when stopped', async () => {
    // Prepare: a file stands in for the terminal's descriptor.
    const file = join(await mkdtemp(join(tmpdir(), 'strata-spinner-')), 'tty');
    const fd = openSync(file, 'w');
    const { stream, written } = fakeStream(true, fd);

    // Act
    const notice = firstRunNotice('/home/x/.strata', true, stream);
    await notice.stop(true);
    closeSync(fd);

    // Assess: at least the first frame was drawn on the descriptor, then the line cleared; the closing line
    // goes through the stream.
    const drawn = readFileSync(file, 'utf8');
    expect(
      drawn.startsWith(
        '\r⠋ creating the embedded database in /home/x/.strata from its prepared image (first run only)  0 s\u001b[K',
      ),
    ).toBe(true);
    expect(drawn.endsWith('\r\u001b[K')).toBe(true);
    expect(written).toEqual([expect.stringMatching(/^created the embedded database in \d+\.\d s\n$/)]);
  });
});
