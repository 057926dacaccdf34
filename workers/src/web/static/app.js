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

  let pendingPrompt = null;
  /** Ask for the access token once (concurrent 401s share the prompt). */
  function askToken(message) {
    if (pendingPrompt) return pendingPrompt;
    pendingPrompt = new Promise((resolve) => {
      const overlay = el('div', { class: 'overlay', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'token-title' });
      const input = el('input', { type: 'password', id: 'token-input', autocomplete: 'current-password', required: '' });
      const form = el('form', { class: 'card', id: 'token-form' },
        el('h2', { id: 'token-title' }, 'Access token'),
        el('p', { class: 'hint' }, message || 'This service needs its access token.'),
        input,
        el('button', { type: 'submit' }, 'Continue'));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        setToken(input.value.trim());
        overlay.remove();
        pendingPrompt = null;
        resolve();
      });
      overlay.append(form);
      document.body.append(overlay);
      input.focus();
    });
    return pendingPrompt;
  }

  /** Call the JSON API; throws an Error with .status and .code on failure. */
  async function api(path, opts = {}) {
    const headers = { Accept: 'application/json', ...(opts.headers || {}) };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    const resp = await fetch(path, { credentials: 'same-origin', ...opts, headers });
    if (resp.status === 401) {
      await askToken(resp.headers.get('www-authenticate') ? undefined : 'Sign-in required.');
      return api(path, opts);
    }
    // `raw`: the answer is not JSON (an image); give the body as a Blob.
    if (opts.raw && resp.ok) return resp.blob();
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

  return { api, askToken, setToken, el, bytes, time, words, settingsForm, duration, percent, sleep };
})();
