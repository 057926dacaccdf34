// Shared helpers of the StereoSpot pages: the JSON API client (with the bearer-token prompt),
// formatting, and small DOM helpers. No framework, no build step.
'use strict';

const Stereo = (() => {
  const COOKIE = 'stereospot_token';

  function setToken(token) {
    const secure = location.protocol === 'https:' ? '; Secure' : '';
    // SameSite=Strict: other sites cannot make the browser send it.
    document.cookie = `${COOKIE}=${encodeURIComponent(token)}; Path=/; SameSite=Strict; Max-Age=2592000${secure}`;
  }

  function clearToken() {
    document.cookie = `${COOKIE}=; Path=/; SameSite=Strict; Max-Age=0`;
  }

  // Sign-in: one form for the whole page (concurrent 401s share it). `why` is the API's code:
  // `invalid_token` (a token was sent and nobody has it) or `unauthorized` (none was sent).
  let pendingSignIn = null;
  function askToken(why) {
    if (pendingSignIn) return pendingSignIn;
    pendingSignIn = new Promise((resolve) => {
      const overlay = el('div', { class: 'overlay', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'token-title' });
      const input = el('input', {
        type: 'password', id: 'token-input', name: 'token', autocomplete: 'current-password',
        required: '', 'aria-describedby': 'token-help token-error',
      });
      const wrong = why === 'invalid_token';
      const message = el('p', { id: 'token-error', class: 'error', role: 'alert' },
        wrong ? 'That access token was not accepted. Check it and try again.' : '');
      message.hidden = !wrong;
      const form = el('form', { class: 'card', id: 'token-form' },
        el('h2', { id: 'token-title' }, 'Sign in'),
        el('p', { class: 'hint', id: 'token-help' },
          'This service is private. Enter the access token you were given by whoever runs it.'),
        el('label', { for: 'token-input' }, 'Access token'),
        input,
        message,
        el('button', { type: 'submit', id: 'token-submit' }, 'Sign in'));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        setToken(token);
        overlay.remove();
        pendingSignIn = null;
        resolve();
      });
      overlay.append(form);
      document.body.append(overlay);
      input.focus();
    });
    return pendingSignIn;
  }

  /** Call the JSON API; throws an Error with .status and .code on failure. */
  async function api(path, opts = {}) {
    const headers = { Accept: 'application/json', ...(opts.headers || {}) };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    const resp = await fetch(path, { credentials: 'same-origin', ...opts, headers });
    if (resp.status === 401) {
      let code = 'unauthorized';
      try {
        code = (await resp.json()).error.code || code;
      } catch (_) { /* not JSON: ask anyway */ }
      await askToken(code);
      return api(path, opts);
    }
    // `raw`: the answer is not JSON (an image); give the body as a Blob.
    if (opts.raw && resp.ok) return resp.blob();
    if (resp.status === 204) return null;
    let body = null;
    try {
      body = await resp.json();
    } catch (_) {
      body = null;
    }
    if (!resp.ok) {
      const err = new Error((body && body.error && body.error.message) || `HTTP ${resp.status}`);
      err.status = resp.status;
      err.code = body && body.error && body.error.code;
      throw err;
    }
    return body;
  }

  /** Who is signed in (asks for the token first when needed); shown in the header bar. */
  async function me() {
    const who = await api('/api/me');
    const bar = document.querySelector('.bar');
    if (bar && who.user && !document.getElementById('who')) {
      const out = el('button', { type: 'button', id: 'sign-out', class: 'linkish' }, 'Sign out');
      out.addEventListener('click', () => {
        clearToken();
        location.assign('/');
      });
      bar.append(el('p', { id: 'who', class: 'who' }, el('span', {}, `Signed in as ${who.user}`), ' ', out));
    }
    return who;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v !== undefined && v !== null) node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  function bytes(n) {
    if (n === null || n === undefined) return '';
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
  }

  // Relative, in words ("3 min ago"); the exact time stays in the element's title.
  function time(ms) {
    if (!ms) return '';
    const s = Math.round((Date.now() - ms) / 1000);
    if (s < 45) return 'just now';
    const m = Math.round(s / 60);
    if (m < 60) return `${m} min ago`;
    const h = Math.round(m / 60);
    if (h < 24) return `${h} h ago`;
    const d = Math.round(h / 24);
    return d === 1 ? 'yesterday' : `${d} days ago`;
  }

  // What a person calls each state of a job.
  const WORDS = {
    QUEUED: 'Waiting for a worker',
    CHUNKING: 'Preparing',
    PROCESSING: 'Converting to 3D',
    REASSEMBLING: 'Finishing',
    COMPLETED: 'Done',
    FAILED: 'Failed',
    CANCELLED: 'Cancelled',
  };
  function words(status) {
    return WORDS[status] || status;
  }

  // The 3D formats (the converter's layouts), as a person would choose them.
  const LAYOUTS = [
    ['full-sbs', 'Side by side, full width (headsets, 3D TVs)'],
    ['half-sbs', 'Side by side, half width (3D TVs)'],
    ['full-tb', 'Top and bottom, full height'],
    ['half-tb', 'Top and bottom, half height'],
    ['anaglyph', 'Red-cyan anaglyph (paper glasses)'],
    ['cross-eyed', 'Cross-eyed (no glasses)'],
    ['vr180', 'VR180 big screen, side by side (YouTube VR, Quest)'],
    ['vr180-tb', 'VR180 big screen, top and bottom'],
    ['rgbd', 'Colour + depth (Looking Glass, 3D photo viewers)'],
    ['half-rgbd', 'Colour + depth, half width'],
  ];
  function fillLayouts(select, chosen = 'full-sbs') {
    select.replaceChildren(...LAYOUTS.map(([v, label]) => {
      const o = el('option', { value: v }, label);
      if (v === chosen) o.selected = true;
      return o;
    }));
  }

  // The 3D settings fields (a format select and two sliders, ids starting with `prefix`), built
  // into `container`; returns a function giving the chosen options as the job API takes them.
  function settingsForm(prefix, container) {
    const id = (name) => `${prefix}${name}`;
    const select = el('select', { id: id('layout'), name: 'layout' });
    fillLayouts(select);
    const slider = (name, label, after, min, max, step, value, digits) => {
      const out = el('output', { id: id(`${name}-value`), for: id(name) }, Number(value).toFixed(digits));
      const input = el('input', { type: 'range', id: id(name), name, min, max, step, value });
      input.addEventListener('input', () => { out.textContent = Number(input.value).toFixed(digits); });
      return [el('label', { for: id(name) }, `${label} `, out, after), input];
    };
    container.replaceChildren(
      el('label', { for: id('layout') }, 'Format'),
      select,
      ...slider('divergence', '3D strength', ' %', '0', '10', '0.5', '2', 1),
      ...slider('convergence', 'Screen depth', ' (0 = everything behind the screen, 1 = in front)', '0', '1', '0.05', '0.5', 2),
    );
    const value = (name) => document.getElementById(id(name)).value;
    return () => ({
      layout: value('layout'),
      divergence: Number(value('divergence')),
      convergence: Number(value('convergence')),
    });
  }

  function duration(ms) {
    if (ms === null || ms === undefined || ms < 0) return '';
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${s % 60} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function percent(done, total) {
    return total ? Math.min(100, Math.round((100 * done) / total)) : 0;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // The files a job takes (the converter's video containers) and the photos the page converts
  // itself (through the preview); the API checks the same list.
  const VIDEO_EXT = ['mp4', 'm4v', 'mov', 'mkv', 'webm', 'avi', 'ts', 'm2ts', 'mts', 'mpg', 'mpeg', 'wmv', 'flv', '3gp'];
  const PHOTO_EXT = ['jpg', 'jpeg', 'png', 'webp'];
  function kindOf(name) {
    const ext = (name.split('.').pop() || '').toLowerCase();
    if (!name.includes('.')) return null;
    if (VIDEO_EXT.includes(ext)) return 'video';
    if (PHOTO_EXT.includes(ext)) return 'photo';
    return null;
  }

  // A failure reason in plain words: no storage keys, no tool names (those are under Details).
  function plain(reason) {
    const r = String(reason || '')
      .replace(/input\/[0-9a-f]{32}-/g, '')
      .replace(/\b[0-9a-f]{32}-/g, '')
      .replace(/segments\/[0-9a-f]{16}\/\d+\.\w+/g, 'a piece of the video');
    if (/not a video|invalid data|no video stream/i.test(r)) return 'this file is not a video we can read.';
    if (/truncated|end of file|moov atom/i.test(r)) return 'the file is incomplete (cut off while it was copied?).';
    if (/audio[- ]only|no video/i.test(r)) return 'the file has sound but no picture.';
    if (/job options|stereospot-/i.test(r)) return `the chosen 3D settings were refused (${r.replace(/^.*?job options: /, '')}).`;
    if (/gave up after/i.test(r)) return 'the service kept failing on this file; try again later.';
    return r.replace(/^[^:]*\.\w{2,4}: /, '').replace(/\bffmpeg\b:? ?/g, '').replace(/\bffprobe\b:? ?/g, '');
  }

  return { api, askToken, setToken, me, el, bytes, time, words, settingsForm, duration, percent, sleep, kindOf, plain, VIDEO_EXT, PHOTO_EXT };
})();
