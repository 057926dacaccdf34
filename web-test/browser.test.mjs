// Browser test of the web-ui: Debian's chromium (headless) driven by playwright-core, against
// a running stack (web-ui + workers + storage) at WEB_URL.
//
//   WEB_URL=http://127.0.0.1:8080 [WEB_TOKEN=...] node --test web-test/browser.test.mjs
//
// It generates a short clip with ffmpeg (lavfi, with audio), uploads it through the upload page,
// follows the redirect to the job page, waits for COMPLETED, asserts that the player's <video>
// loads the result (duration > 0, the side-by-side size) and that the jobs page lists it, and
// saves a screenshot (WEB_SCREENSHOT, default out/web-ui.png). The workers' Rust test
// `web_ui_pages_upload_and_play_in_headless_chromium` starts the stack and runs this file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const WEB_URL = process.env.WEB_URL;
const TOKEN = process.env.WEB_TOKEN || '';
const SCREENSHOT = resolve(process.env.WEB_SCREENSHOT || 'out/web-ui.png');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TIMEOUT_MS = Number(process.env.WEB_TEST_TIMEOUT_MS || 240000);
// No browser download can work here: Debian's chromium, and nothing reaching the network.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let browser;
let workdir;

before(async () => {
  assert.ok(WEB_URL, 'set WEB_URL to the web-ui of a running stack');
  workdir = mkdtempSync(join(process.env.WEB_WORKDIR || tmpdir(), 'web-test-'));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
});

after(async () => {
  if (browser) await browser.close();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

/** `secs` s of testsrc2 at `size`, 24 fps, a keyframe a second, with a 440 Hz tone. */
function makeClip(path, secs = 4, size = '320x240') {
  execFileSync('ffmpeg', [
    '-hide_banner', '-nostdin', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=24:duration=${secs}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:duration=${secs}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '24', '-keyint_min', '24',
    '-sc_threshold', '0', '-c:a', 'aac', '-shortest', path,
  ]);
  return path;
}

test('upload through the page, follow the job, play the 3D result', { timeout: TIMEOUT_MS + 60000 }, async () => {
  const clip = makeClip(join(workdir, 'browser clip.mp4'));
  const context = await browser.newContext({ viewport: { width: 412, height: 915 }, deviceScaleFactor: 1 });
  if (TOKEN) {
    // What the page's token prompt stores: the API and EventSource send it as a cookie.
    await context.addCookies([{ name: 'stereospot_token', value: encodeURIComponent(TOKEN), url: WEB_URL, sameSite: 'Strict' }]);
  }
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // Failed loads are judged below, by URL and status.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    // A fresh job is a 404 until a worker picks up its upload: the page waits through that.
    const waiting = r.status() === 404 && /\/api\/jobs\/([0-9a-f]{16}|by-key)(\?|$)/.test(r.url());
    if (r.status() >= 400 && !waiting) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });

  await page.goto(`${WEB_URL}/`);
  assert.equal(await page.locator('h1').textContent(), 'Convert a video to 3D');
  await page.setInputFiles('#file', clip);
  // The job's own 3D settings: top and bottom, not the service's side-by-side default.
  await page.selectOption('#layout', 'full-tb');
  // A still preview with these settings before uploading: a frame grabbed in the page, rendered
  // by the server in top-bottom 3D (twice the height).
  await page.click('#preview-button');
  await page.waitForFunction(
    () => !document.querySelector('#preview').hidden || /^No preview/.test(document.querySelector('#preview-status').textContent),
    null,
    { timeout: 30000, polling: 200 },
  );
  assert.equal(await page.locator('#preview').isVisible(), true, await page.locator('#preview-status').textContent());
  const still = await page.evaluate(() => {
    const i = document.querySelector('#preview');
    return [i.naturalWidth, i.naturalHeight];
  });
  assert.deepEqual(still, [320, 480], 'the preview is the frame in the chosen format');
  await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-preview.png'), fullPage: true });
  await page.click('#start');

  // The page uploads with progress, then goes to /jobs/<id>?new=1.
  await page.waitForURL(/\/jobs\/[0-9a-f]{16}\?new=1$/, { timeout: 60000 });
  const jobId = new URL(page.url()).pathname.split('/')[2];
  assert.equal(await page.locator('#upload-progress').count(), 0, 'left the upload page');

  // Live progress, then COMPLETED and the player.
  await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Done', null, {
    timeout: TIMEOUT_MS,
    polling: 500,
  });
  assert.equal(await page.locator('#title').textContent(), 'browser_clip.mp4');
  // Plain words and one progress figure, no pipeline terms.
  assert.match(await page.locator('#frames-text').textContent(), /Done: all 96 frames in 3D/);
  assert.match(await page.locator('#layout-hint').textContent(), /left eye on top/);
  const visible = await page.locator('main').innerText();
  assert.doesNotMatch(visible, /COMPLETED|PROCESSING|Segments|[0-9a-f]{16}/, 'no pipeline words before Details');
  await page.locator('#result').waitFor({ state: 'visible', timeout: 30000 });
  const video = await page.waitForFunction(
    () => {
      const v = document.querySelector('#player');
      return v && v.readyState >= 1 && v.duration > 0 ? { duration: v.duration, w: v.videoWidth, h: v.videoHeight } : null;
    },
    null,
    { timeout: 30000, polling: 250 },
  );
  const meta = await video.jsonValue();
  assert.ok(Math.abs(meta.duration - 4) < 0.2, `duration ${meta.duration}`);
  assert.deepEqual([meta.w, meta.h], [320, 480], 'full top-bottom (the chosen format): twice the height');
  assert.match(await page.locator('#facts').textContent(), /format full-tb/);
  // On a phone the result starts as one eye (a 3:4 portrait strip otherwise); the switch
  // shows the frame as delivered.
  const aspect = () => page.evaluate(() => {
    const r = document.querySelector('#frame').getBoundingClientRect();
    return r.width / r.height;
  });
  assert.equal(await page.locator('#view-one').getAttribute('aria-pressed'), 'true');
  assert.ok(Math.abs((await aspect()) - 4 / 3) < 0.05, `one eye: ${await aspect()}`);
  assert.equal(await page.locator('#play').isVisible(), true, 'a play button stands in for the cropped controls');
  await page.click('#view-both');
  assert.ok(Math.abs((await aspect()) - 2 / 3) < 0.05, `both eyes: ${await aspect()}`);
  assert.equal(await page.locator('#player').evaluate((v) => v.controls), true);
  await page.click('#view-one');
  const download = page.locator('#download');
  assert.match(await download.getAttribute('href'), /final\.mp4/);
  assert.equal(await download.getAttribute('download'), 'browser_clip-3d.mp4');
  // Show a frame, not a black box, in the screenshot.
  await page.evaluate(async () => {
    const v = document.querySelector('#player');
    v.currentTime = Math.min(1, v.duration / 2);
    await new Promise((r) => v.addEventListener('seeked', r, { once: true }));
    while (v.readyState < 2) await new Promise((r) => setTimeout(r, 50));
  });
  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok(statSync(SCREENSHOT).size > 10000, 'screenshot written');

  // Re-render with new settings from the result page: a new job (reusing the kept depth) in
  // the new format.
  await page.click('#rerender-box summary');
  await page.selectOption('#rr-layout', 'half-sbs');
  await page.click('#rerender');
  await page.waitForURL((u) => /\/jobs\/[0-9a-f]{16}\?new=1$/.test(u.href) && !u.href.includes(jobId), { timeout: 30000 });
  await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Done', null, {
    timeout: TIMEOUT_MS,
    polling: 500,
  });
  assert.match(await page.locator('#facts').textContent(), /format half-sbs/);
  await page.locator('#result').waitFor({ state: 'visible', timeout: 30000 });
  const again = await page.waitForFunction(
    () => {
      const v = document.querySelector('#player');
      return v && v.readyState >= 1 ? [v.videoWidth, v.videoHeight] : null;
    },
    null,
    { timeout: 30000, polling: 250 },
  );
  assert.deepEqual(await again.jsonValue(), [320, 240], 'half side-by-side: the input size');

  // The jobs page lists it under Completed, fits a phone screen (no horizontal scroll).
  await page.goto(`${WEB_URL}/jobs`);
  await page.locator(`#list-completed a[data-job-id="${jobId}"]`).waitFor({ timeout: 15000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page wider than the phone viewport by ${overflow}px`);

  assert.deepEqual(problems, [], 'no script errors');
  await context.close();
});

const TOKEN_B = process.env.WEB_TOKEN_B || '';
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const shot = (name) => SCREENSHOT.replace(/\.png$/, `-${name}.png`);

/** A context signed in with `token` (the cookie the sign-in form stores), or none. */
async function contextFor(token, viewport) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  if (token) {
    await context.addCookies([{ name: 'stereospot_token', value: encodeURIComponent(token), url: WEB_URL, sameSite: 'Strict' }]);
  }
  return context;
}

/** Open a page that accepts the confirm dialogs and collects script errors. */
async function open(context, problems) {
  const page = await context.newPage();
  page.on('dialog', (d) => d.accept());
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return page;
}

const statusIs = (page, text, timeout = TIMEOUT_MS) =>
  page.waitForFunction((t) => document.querySelector('#status')?.textContent === t, text, { timeout, polling: 250 });

/** The job id of the job page `page` shows. */
const jobIdOf = (page) => new URL(page.url()).pathname.split('/')[2];

test('sign in, drop a file, watch in anaglyph, cancel, delete, retry, and stay private', { timeout: TIMEOUT_MS * 3 }, async () => {
  assert.ok(TOKEN, 'WEB_TOKEN (a user of the stack) is needed for this test');
  const problems = [];
  mkdirSync(dirname(SCREENSHOT), { recursive: true });

  // Sign-in on the first page: a wrong token is told, the right one goes on.
  const desk = await contextFor('', DESKTOP);
  const page = await open(desk, problems);
  await page.goto(`${WEB_URL}/`);
  await page.locator('#token-form').waitFor({ state: 'visible', timeout: 15000 });
  assert.equal(await page.locator('#token-error').isVisible(), false, 'no error before a try');
  await page.screenshot({ path: shot('signin-desktop') });
  await page.fill('#token-input', 'not-the-right-token-at-all');
  await page.click('#token-submit');
  await page.locator('#token-error').waitFor({ state: 'visible', timeout: 15000 });
  assert.match(await page.locator('#token-error').textContent(), /That access token was not accepted/);
  await page.screenshot({ path: shot('signin-wrong-desktop') });
  await page.fill('#token-input', TOKEN);
  await page.click('#token-submit');
  await page.locator('#who').waitFor({ state: 'visible', timeout: 15000 });
  assert.match(await page.locator('#who').textContent(), /Signed in as alice/);
  assert.equal(await page.locator('#token-form').count(), 0, 'the form is gone');
  await page.screenshot({ path: shot('upload-desktop'), fullPage: true });

  // Drag and drop: a synthetic drop of the clip's bytes on the box, with the picker's checks.
  const dropFile = async (name, b64, type) => {
    await page.evaluate(([n, data, ty]) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], n, { type: ty }));
      const box = document.querySelector('#drop');
      box.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
      box.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, [name, b64, type]);
  };
  await dropFile('notes.txt', Buffer.from('a list').toString('base64'), 'text/plain');
  assert.match(await page.locator('#error').textContent(), /not a video or photo we can convert/);
  // A photo is made 3D on the page (no job): the 3D still, side by side, to download.
  const photo = join(workdir, 'photo.png');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x120', '-frames:v', '1', photo]);
  await dropFile('photo.png', readFileSync(photo).toString('base64'), 'image/png');
  assert.match(await page.locator('#start').textContent(), /3D photo/);
  await page.click('#start');
  await page.locator('#photo-result').waitFor({ state: 'visible', timeout: 60000 });
  const still = await page.evaluate(() => [document.querySelector('#photo-3d').naturalWidth, document.querySelector('#photo-3d').naturalHeight]);
  assert.deepEqual(still, [320, 120], 'the photo in full side-by-side 3D');
  assert.equal(await page.locator('#photo-download').getAttribute('download'), 'photo-3d.jpg');
  assert.match(page.url(), /\/$/, 'no job for a photo');
  const clip = makeClip(join(workdir, 'dropped clip.mov'));
  await dropFile('dropped clip.mov', readFileSync(clip).toString('base64'), 'video/quicktime');
  assert.match(await page.locator('#chosen').textContent(), /dropped clip\.mov/);
  assert.equal(await page.locator('#error').isVisible(), false);
  await page.click('#start');
  await page.waitForURL(/\/jobs\/[0-9a-f]{16}\?new=1$/, { timeout: 60000 });
  const done = jobIdOf(page);
  await statusIs(page, 'Done');
  await page.locator('#result').waitFor({ state: 'visible', timeout: 30000 });
  const visible = await page.locator('main').innerText();
  assert.doesNotMatch(visible, /COMPLETED|ffmpeg|[0-9a-f]{16}/, 'no pipeline words before Details');

  // The viewer: one eye and the anaglyph, computed in the page from the side-by-side frame.
  await page.waitForFunction(() => document.querySelector('#player').readyState >= 2, null, { timeout: 30000 });
  await page.evaluate(async () => {
    const v = document.querySelector('#player');
    v.pause();
    v.currentTime = 1;
    await new Promise((r) => v.addEventListener('seeked', r, { once: true }));
  });
  await page.click('#view-anaglyph');
  await page.waitForFunction(() => Math.abs(Number(document.querySelector('#anaglyph').dataset.frameTime ?? -9) - 1) < 0.05, null, { timeout: 15000 });
  assert.equal(await page.locator('#anaglyph').isVisible(), true);
  const pixels = await page.evaluate(() => {
    const v = document.querySelector('#player');
    const c = document.querySelector('#anaglyph');
    const [w, h] = [c.width, c.height];
    const f = document.createElement('canvas');
    f.width = w * 2;
    f.height = h;
    const fc = f.getContext('2d');
    fc.drawImage(v, 0, 0, w * 2, h);
    const left = fc.getImageData(0, 0, w, h).data;
    const right = fc.getImageData(w, 0, w, h).data;
    const ana = c.getContext('2d').getImageData(0, 0, w, h).data;
    let fromEyes = 0; let vsLeft = 0; let n = 0;
    for (let i = 0; i < ana.length; i += 4 * 97) {
      // Dubois red-cyan: red from the left eye mostly, green and blue from the right.
      const red = 0.4561 * left[i] + 0.500484 * left[i + 1] + 0.176381 * left[i + 2]
        - 0.0434706 * right[i] - 0.0879388 * right[i + 1] - 0.00155529 * right[i + 2];
      const green = -0.0400822 * left[i] - 0.0378246 * left[i + 1] - 0.0157589 * left[i + 2]
        + 0.378476 * right[i] + 0.73364 * right[i + 1] - 0.0184503 * right[i + 2];
      const clamp = (x) => Math.max(0, Math.min(255, x));
      fromEyes += Math.abs(ana[i] - clamp(red)) + Math.abs(ana[i + 1] - clamp(green));
      vsLeft += Math.abs(ana[i] - left[i]) + Math.abs(ana[i + 1] - left[i + 1]) + Math.abs(ana[i + 2] - left[i + 2]);
      n++;
    }
    return { w, h, fromEyes: fromEyes / (2 * n), vsLeft: vsLeft / (3 * n) };
  });
  assert.deepEqual([pixels.w, pixels.h], [320, 240], 'one eye of the full side-by-side frame');
  assert.ok(pixels.fromEyes < 3, `the anaglyph is the Dubois mix of the two eyes (mean error ${pixels.fromEyes})`);
  assert.ok(pixels.vsLeft > 20, `the anaglyph switch changes the picture (mean change ${pixels.vsLeft})`);
  await page.screenshot({ path: shot('job-anaglyph-desktop'), fullPage: true });
  await page.click('#view-one');
  assert.equal(await page.locator('#anaglyph').isVisible(), false);
  assert.equal(await page.locator('#view-one').getAttribute('aria-pressed'), 'true');

  // A long film: one progress percentage that moves, then cancel.
  const long = makeClip(join(workdir, 'long film.mp4'), 60, '640x360');
  await page.goto(`${WEB_URL}/`);
  await page.setInputFiles('#file', long);
  await page.click('#start');
  await page.waitForURL(/\/jobs\/[0-9a-f]{16}\?new=1$/, { timeout: 60000 });
  const cancelled = jobIdOf(page);
  const pct = async (above) => {
    const h = await page.waitForFunction((min) => {
      const m = /^Converting to 3D \((\d+) %/.exec(document.querySelector('#frames-text')?.textContent || '');
      return m && Number(m[1]) > min ? Number(m[1]) : null;
    }, above, { timeout: TIMEOUT_MS, polling: 100 });
    return h.jsonValue();
  };
  const p1 = await pct(0);
  const p2 = await pct(p1);
  assert.ok(p2 > p1 && p2 < 100, `progress moves: ${p1} % then ${p2} %`);
  assert.equal(await page.locator('progress').count(), 1, 'one progress figure');
  assert.match(await page.locator('#frames-text').textContent(), /frames/);
  await page.screenshot({ path: shot('job-running-desktop'), fullPage: true });
  await page.click('#cancel');
  await statusIs(page, 'Cancelled', 30000);
  const results = await page.evaluate((id) => fetch(`/api/jobs/${id}/results`).then((r) => r.status), cancelled);
  assert.equal(results, 409, 'a cancelled job has no result');
  assert.equal(await page.locator('#retry').isVisible(), true, 'a cancelled job can be tried again');
  await page.screenshot({ path: shot('job-cancelled-desktop'), fullPage: true });

  // Delete it: back to the list, gone from it, its link says so in plain words.
  await page.click('#delete');
  await page.waitForURL(/\/jobs\?deleted=1$/, { timeout: 30000 });
  assert.match(await page.locator('#notice').textContent(), /deleted/);
  await page.locator(`#list-completed a[data-job-id="${done}"]`).waitFor({ timeout: 15000 });
  assert.equal(await page.locator(`a[data-job-id="${cancelled}"]`).count(), 0);
  await page.goto(`${WEB_URL}/jobs/${cancelled}`);
  await page.locator('#missing').waitFor({ state: 'visible', timeout: 15000 });
  assert.match(await page.locator('#missing').textContent(), /cannot find this job/);
  assert.equal(await page.locator('#missing a[href="/jobs"]').count(), 1, 'a way back');

  // A file that is not a video: Failed with a plain reason, then Try again: a new job.
  const junk = join(workdir, 'holiday.mp4');
  writeFileSync(junk, Buffer.alloc(4096, 7));
  await page.goto(`${WEB_URL}/`);
  await page.setInputFiles('#file', junk);
  await page.click('#start');
  await page.waitForURL(/\/jobs\/[0-9a-f]{16}\?new=1$/, { timeout: 60000 });
  const failed = jobIdOf(page);
  await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Failed', null, { timeout: 60000 });
  const reason = await page.locator('#error').textContent();
  assert.match(reason, /Failed: this file is not a video we can read/);
  assert.doesNotMatch(reason, /ffmpeg|[0-9a-f]{16}/);
  assert.equal(await page.locator('#another').isVisible(), true, 'try another file');
  await page.screenshot({ path: shot('job-failed-desktop'), fullPage: true });
  await page.click('#retry');
  await page.waitForURL((u) => /\/jobs\/[0-9a-f]{16}\?new=1$/.test(u.href) && !u.href.includes(failed), { timeout: 30000 });
  await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Failed', null, { timeout: 60000 });
  assert.notEqual(jobIdOf(page), failed, 'the retry is a job of its own');

  await page.goto(`${WEB_URL}/jobs`);
  await page.locator(`#list-completed a[data-job-id="${done}"]`).waitFor({ timeout: 15000 });
  await page.screenshot({ path: shot('jobs-desktop'), fullPage: true });

  // Everything a keyboard can reach on the upload page has a name.
  await page.goto(`${WEB_URL}/`);
  const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, a, input, select, [tabindex="0"]')]
    .filter((e) => e.type !== 'file' && e.offsetParent !== null)
    .filter((e) => !(e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || e.labels?.length || e.textContent.trim()))
    .map((e) => e.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, [], 'every control has an accessible name');
  await page.locator('#who').waitFor({ state: 'visible', timeout: 15000 });
  const order = [];
  for (let i = 0; i < 8 && order[order.length - 1] !== 'drop'; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent.trim()));
  }
  assert.deepEqual(order, ['StereoSpot', 'Upload', 'Jobs', 'sign-out', 'drop'], 'focus order: header, then the drop box');
  // Enter on the focused box opens the file picker (its click, caught before the dialog).
  await page.evaluate(() => document.querySelector('#file').addEventListener('click', (e) => {
    window.pickerOpened = true;
    e.preventDefault();
  }));
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => window.pickerOpened === true), true, 'Enter opens the picker');
  await desk.close();

  // Phone width: each page fits the screen.
  const phone = await contextFor(TOKEN, PHONE);
  const p = await open(phone, problems);
  for (const [name, path] of [['upload', '/'], ['jobs', '/jobs'], ['job', `/jobs/${done}`]]) {
    await p.goto(`${WEB_URL}${path}`);
    await p.locator('#who').waitFor({ state: 'visible', timeout: 15000 });
    if (name === 'job') {
      await statusIs(p, 'Done', 15000);
      await p.locator('#result').waitFor({ state: 'visible', timeout: 15000 });
      const box = await p.locator('#frame').boundingBox();
      assert.ok(box.height > 150, `the player is tall enough on a phone: ${box.height}px`);
    }
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const wide = await p.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
      .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`).slice(0, 5));
    assert.ok(overflow <= 0, `${name} is wider than a phone by ${overflow}px: ${wide.join(', ')}`);
    await p.screenshot({ path: shot(`${name}-phone`), fullPage: true });
  }
  await phone.close();

  // Another user sees none of alice's jobs, and her job's page and API refuse him.
  if (!TOKEN_B) {
    console.log('skipped the second-user part: WEB_TOKEN_B is not set');
  } else {
    const other = await contextFor(TOKEN_B, DESKTOP);
    const b = await open(other, problems);
    await b.goto(`${WEB_URL}/jobs`);
    await b.locator('#who').waitFor({ state: 'visible', timeout: 15000 });
    await b.locator('section[data-list="completed"] .empty').waitFor({ state: 'visible', timeout: 15000 });
    assert.equal(await b.locator(`a[data-job-id="${done}"]`).count(), 0, "alice's job is not in bob's list");
    const status = await b.evaluate((id) => fetch(`/api/jobs/${id}`).then((r) => r.status), done);
    assert.equal(status, 404, "alice's job is refused to bob");
    await b.goto(`${WEB_URL}/jobs/${done}`);
    await b.locator('#missing').waitFor({ state: 'visible', timeout: 15000 });
    await b.screenshot({ path: shot('other-user-desktop'), fullPage: true });
    await other.close();
  }
  assert.deepEqual(problems, [], 'no script errors');
});
