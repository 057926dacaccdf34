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
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
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

/** 4 s of testsrc2 at 320x240, 24 fps, a keyframe a second, with a 440 Hz tone. */
function makeClip(path) {
  execFileSync('ffmpeg', [
    '-hide_banner', '-nostdin', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=24:duration=4',
    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=4',
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
  assert.match(await page.locator('#frames-text').textContent(), /Done: 96 of 96 frames/);
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
