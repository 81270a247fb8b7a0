// The portal's only script, run in the browser. Three things, each on the pages that have its markup, and
// every page works without it as far as a page can: an upload form that sends the file straight to the
// ingress bucket by a presigned PUT with progress; an upload's page that follows its ingest until the
// receipt is there; copy buttons. Whatever comes from the server is put in as text or as a page the server
// escaped, never as markup made here.

interface UploadTarget {
  readonly uploadId: string;
  readonly url: string;
  readonly method: 'PUT';
  readonly headers: Record<string, string>;
  /** The upload's page in the portal, where its receipt appears. */
  readonly page: string;
}

/** Browsers set these themselves and refuse them from a script. */
const FORBIDDEN_HEADERS = new Set(['content-length', 'host']);

function say(text: string): void {
  const live = document.getElementById('live');
  if (live) live.textContent = text;
}

/** A problem document's detail, or the status line, for a request the server refused. */
async function refusal(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { detail?: string; title?: string };
    return body.detail ?? body.title ?? `${res.status} ${res.statusText}`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}

/** PUTs the file to the presigned URL, reporting progress; resolves once the bucket has it. */
function put(target: UploadTarget, file: File, progress: (sent: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(target.method, target.url);
    for (const [name, value] of Object.entries(target.headers))
      if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => progress(e.loaded);
    xhr.onload = () =>
      xhr.status >= 200 && xhr.status < 300
        ? resolve()
        : reject(new Error(`the bucket refused the file: ${xhr.status} ${xhr.responseText.slice(0, 300)}`));
    xhr.onerror = () => reject(new Error('the file could not be sent (the connection failed)'));
    xhr.send(file);
  });
}

function uploadForm(form: HTMLFormElement): void {
  const input = form.querySelector<HTMLInputElement>('input[type=file]');
  const status = document.getElementById('upload-status');
  const bar = document.getElementById('upload-progress') as HTMLProgressElement | null;
  const drop = form.querySelector<HTMLElement>('.drop');
  if (!input || !status || !bar) return;
  const show = (text: string, tone: 'info' | 'bad' = 'info') => {
    status.textContent = text;
    status.className = tone === 'bad' ? 'notice bad' : 'notice';
    status.hidden = false;
    say(text);
  };
  drop?.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop?.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop?.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer?.files.length) input.files = e.dataTransfer.files;
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = input.files?.[0];
    if (!file) return show('Choose a file first.', 'bad');
    const token = form.querySelector<HTMLInputElement>('input[name=form]')?.value ?? '';
    const asked = await fetch(form.action, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-portal-form': token },
      body: JSON.stringify({ filename: file.name, size: file.size }),
    });
    if (!asked.ok) return show(`Not sent: ${await refusal(asked)}`, 'bad');
    const target = (await asked.json()) as UploadTarget;
    bar.max = file.size;
    bar.value = 0;
    bar.hidden = false;
    show(`Sending ${file.name}…`);
    try {
      await put(target, file, (sent) => {
        bar.value = sent;
        bar.textContent = `${Math.round((100 * sent) / Math.max(file.size, 1))}%`;
      });
    } catch (error) {
      return show(`Not sent: ${(error as Error).message}`, 'bad');
    }
    show(`${file.name} is in. Waiting for its receipt…`);
    location.assign(target.page);
  });
}

/** An upload's page while its ingest is under way: looks again every two seconds until it has ended. */
function followReceipt(): void {
  const watched = () => document.querySelector('[data-watch-status]');
  const busy = (s: string | null | undefined) => s === 'waiting' || s === 'queued' || s === 'running';
  if (!busy(watched()?.getAttribute('data-watch-status'))) return;
  let left = 1800;
  const look = async () => {
    if (--left < 0) return;
    try {
      const res = await fetch(location.href, { headers: { accept: 'text/html' }, cache: 'no-store' });
      if (res.ok) {
        const next = new DOMParser().parseFromString(await res.text(), 'text/html');
        const was = watched()?.getAttribute('data-watch-status');
        const now = next.querySelector('[data-watch-status]')?.getAttribute('data-watch-status');
        const main = document.querySelector('main');
        const fresh = next.querySelector('main');
        if (now && now !== was && main && fresh) {
          main.replaceChildren(...Array.from(fresh.childNodes));
          say(`Status now: ${now}.`);
          if (!busy(now)) return;
        }
      }
    } catch {}
    setTimeout(look, 2000);
  };
  setTimeout(look, 2000);
}

function copyButtons(): void {
  for (const button of Array.from(document.querySelectorAll<HTMLButtonElement>('button[data-copy]'))) {
    button.hidden = false;
    button.addEventListener('click', async () => {
      const text = document.getElementById(button.dataset.copy ?? '')?.textContent ?? '';
      try {
        await navigator.clipboard.writeText(text);
        say('Copied.');
      } catch {
        say('Could not copy: select the address and copy it yourself.');
      }
    });
  }
}

const form = document.querySelector<HTMLFormElement>('form#upload');
if (form) uploadForm(form);
followReceipt();
copyButtons();
