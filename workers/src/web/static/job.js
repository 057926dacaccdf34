// Job page: live progress over Server-Sent Events, job control (cancel, retry, delete), then
// the player with "one eye" and anaglyph views, and a download link.
'use strict';

(() => {
  const id = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
  const fresh = new URLSearchParams(location.search).has('new');
  const $ = (x) => document.getElementById(x);
  let current = null;

  function note(text) {
    $('note').textContent = text;
  }

  function fail(message) {
    $('error').textContent = message;
    $('error').hidden = !message;
  }

  function fact(dt, dd, list = 'facts') {
    if (dd !== '' && dd !== null && dd !== undefined) {
      $(list).append(Stereo.el('dt', {}, dt), Stereo.el('dd', {}, String(dd)));
    }
  }

  // How each format is watched (the result page says which one this is).
  const HINTS = {
    'full-sbs': 'Side by side: left eye on the left. Watch in a headset or on a 3D TV.',
    'half-sbs': 'Half side by side: left eye on the left. Watch on a 3D TV.',
    'full-tb': 'Top and bottom: left eye on top. Watch in a headset or on a 3D TV.',
    'half-tb': 'Half top and bottom: left eye on top. Watch on a 3D TV.',
    anaglyph: 'Red-cyan anaglyph: watch with red-cyan glasses.',
    'cross-eyed': 'Cross-eyed: right eye on the left; cross your eyes until the images merge.',
    vr180: 'VR180: play it in a headset (YouTube VR, Quest) for a big virtual screen.',
    'vr180-tb': 'VR180, top and bottom: play it in a headset.',
    rgbd: 'Colour and depth side by side, for Looking Glass displays and 3D photo viewers.',
    'half-rgbd': 'Colour and depth side by side (half width), for depth-aware viewers.',
  };

  // Frames seen over time, for the rate and the time left.
  const seen = [];
  function headline(job) {
    switch (job.status) {
      case 'QUEUED':
        return job.queue_position ? `Waiting for a worker (${job.queue_position} ahead)` : 'Waiting for a worker';
      case 'CHUNKING':
        return 'Preparing';
      case 'PROCESSING': {
        if (!job.frames_done && job.queue_position) return `Waiting for a worker (${job.queue_position} ahead)`;
        if (!job.frames_total) return 'Converting to 3D';
        const pct = Stereo.percent(job.frames_done, job.frames_total);
        seen.push([Date.now(), job.frames_done]);
        while (seen.length > 30) seen.shift();
        let left = '';
        if (seen.length >= 2) {
          const [t0, f0] = seen[0];
          const [t1, f1] = seen[seen.length - 1];
          const rate = (f1 - f0) / Math.max(0.001, (t1 - t0) / 1000);
          if (rate > 0) left = `, ${Stereo.duration(((job.frames_total - job.frames_done) / rate) * 1000)} left`;
        }
        return `Converting to 3D (${pct} %${left})`;
      }
      case 'REASSEMBLING':
        return 'Finishing';
      case 'COMPLETED':
        return 'Done';
      case 'FAILED':
        return `Failed: ${Stereo.plain(job.error)}`;
      case 'CANCELLED':
        return 'Cancelled';
      default:
        return Stereo.words(job.status);
    }
  }

  // The one progress figure: frames converted of the film's frames, with their rate.
  function progressText(job) {
    const { frames_done: done, frames_total: total } = job;
    if (!total || job.status === 'QUEUED' || job.status === 'CHUNKING') return `${headline(job)}…`;
    if (job.status === 'COMPLETED') return `Done: all ${total} frames in 3D`;
    let rate = '';
    if (seen.length >= 2) {
      const [t0, f0] = seen[0];
      const [t1, f1] = seen[seen.length - 1];
      const r = (f1 - f0) / Math.max(0.001, (t1 - t0) / 1000);
      if (r > 0) rate = `, ${r.toFixed(0)} frames a second`;
    }
    return `${headline(job)}: ${done} of ${total} frames${rate}`;
  }

  function controls(job) {
    const running = job.in_progress;
    const stopped = job.status === 'FAILED' || job.status === 'CANCELLED';
    $('controls').hidden = false;
    $('cancel').hidden = !running;
    $('retry').hidden = !stopped;
    $('retry-box').hidden = !stopped;
    $('another').hidden = !stopped;
    $('delete').hidden = false;
  }

  function render(job) {
    current = job;
    document.title = `StereoSpot · ${job.name}`;
    $('title').textContent = job.name;
    const badge = $('status');
    badge.textContent = Stereo.words(job.status);
    badge.className = `badge ${job.status}`;
    $('progress').hidden = !job.in_progress;
    $('frames').value = Stereo.percent(job.frames_done, job.frames_total);
    $('frames-text').textContent = progressText(job);
    note(job.in_progress ? '' : job.status === 'CANCELLED' ? 'You cancelled this conversion; nothing of it was kept.' : '');
    if (job.thumbnail_url && $('thumb').hidden && !$('thumb').dataset.tried) {
      const img = $('thumb');
      img.dataset.tried = '1';
      img.onload = () => { img.hidden = false; };
      img.onerror = () => { delete img.dataset.tried; };
      img.src = job.thumbnail_url;
    }
    $('facts').replaceChildren();
    $('tech').replaceChildren();
    fact('Uploaded', Stereo.time(job.created_at));
    fact(job.status === 'CANCELLED' ? 'Cancelled' : 'Finished', Stereo.time(job.completed_at));
    if (job.status === 'COMPLETED') fact('Took', Stereo.duration(job.completed_at - job.created_at));
    if (job.width) fact('Video', `${job.width}×${job.height}, ${job.duration_seconds.toFixed(1)} s`);
    const o = job.options || {};
    const layout = o.layout || 'full-sbs';
    fact('3D settings', [
      o.layout ? `format ${o.layout}` : 'the service\'s default format',
      o.divergence !== undefined ? `strength ${o.divergence} %` : null,
      o.convergence !== undefined ? `screen depth ${o.convergence}` : null,
    ].filter(Boolean).join(', '));
    $('layout-hint').textContent = HINTS[layout] || '';
    fact('Job id', job.job_id, 'tech');
    fact('Stored as', job.input_key, 'tech');
    fact('State', job.status, 'tech');
    if (job.owner) fact('Owner', job.owner, 'tech');
    if (job.segments_total) fact('Pieces', `${job.segments_done} of ${job.segments_total} converted`, 'tech');
    if (job.error) fact('Error', job.error, 'tech');
    fail(job.status === 'FAILED' ? headline(job) : '');
    controls(job);
  }

  // ---- The viewer ------------------------------------------------------------------------

  // Packed layouts whose eyes the browser can take apart: where each eye is.
  const PACKED = {
    'full-sbs': 'left', 'half-sbs': 'left', 'cross-eyed': 'left', 'full-tb': 'top', 'half-tb': 'top',
  };

  // Where the left and right eye are in a `vw` x `vh` frame of `layout`, and the size one eye
  // is shown at (a half-width eye is stretched back to its picture's shape).
  function eyes(layout, vw, vh) {
    const sbs = PACKED[layout] === 'left';
    const a = sbs ? [0, 0, vw / 2, vh] : [0, 0, vw, vh / 2];
    const b = sbs ? [vw / 2, 0, vw / 2, vh] : [0, vh / 2, vw, vh / 2];
    const half = layout === 'half-sbs' || layout === 'half-tb';
    const shown = half ? [vw, vh] : [a[2], a[3]];
    // Cross-eyed puts the right eye on the left.
    return layout === 'cross-eyed' ? { left: b, right: a, shown } : { left: a, right: b, shown };
  }

  // Red-cyan anaglyph, Dubois' least-squares projection (E. Dubois, "A projection method to
  // generate anaglyph stereo images", ICASSP 2001; the matrices of his red-cyan table, as in
  // pipeline-core/src/stereo/anaglyph.rs): out = L·left + R·right, per pixel, clamped.
  const DL = [
    [0.4561, 0.500484, 0.176381],
    [-0.0400822, -0.0378246, -0.0157589],
    [-0.0152161, -0.0205971, -0.00546856],
  ];
  const DR = [
    [-0.0434706, -0.0879388, -0.00155529],
    [0.378476, 0.73364, -0.0184503],
    [-0.0721527, -0.112961, 1.2264],
  ];
  function dubois(l, r, out) {
    for (let i = 0; i < out.length; i += 4) {
      const lr = l[i], lg = l[i + 1], lb = l[i + 2];
      const rr = r[i], rg = r[i + 1], rb = r[i + 2];
      for (let c = 0; c < 3; c++) {
        const v = DL[c][0] * lr + DL[c][1] * lg + DL[c][2] * lb + DR[c][0] * rr + DR[c][1] * rg + DR[c][2] * rb;
        out[i + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
      out[i + 3] = 255;
    }
  }

  // Draws the anaglyph of the current frame into the canvas (2D canvas: works without a GPU).
  const MAX_ANAGLYPH_WIDTH = 960;
  let drawing = false;
  let lastTime = -1;
  const work = document.createElement('canvas');
  function drawAnaglyph(layout) {
    const v = $('player');
    const c = $('anaglyph');
    if (!v.videoWidth) return;
    const e = eyes(layout, v.videoWidth, v.videoHeight);
    const scale = Math.min(1, MAX_ANAGLYPH_WIDTH / e.shown[0]);
    const w = Math.max(2, Math.round(e.shown[0] * scale));
    const h = Math.max(2, Math.round(e.shown[1] * scale));
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    work.width = w;
    work.height = h * 2;
    const wc = work.getContext('2d', { willReadFrequently: true });
    wc.drawImage(v, ...e.left, 0, 0, w, h);
    wc.drawImage(v, ...e.right, 0, h, w, h);
    const l = wc.getImageData(0, 0, w, h);
    const r = wc.getImageData(0, h, w, h);
    const out = c.getContext('2d').createImageData(w, h);
    dubois(l.data, r.data, out.data);
    c.getContext('2d').putImageData(out, 0, 0);
    c.dataset.frameTime = String(v.currentTime);
  }
  function loop(layout) {
    if (!drawing) return;
    const v = $('player');
    if (v.currentTime !== lastTime || !$('anaglyph').dataset.frameTime) {
      lastTime = v.currentTime;
      try {
        drawAnaglyph(layout);
      } catch (err) {
        // A video from a store without CORS taints the canvas: say so once and go back.
        drawing = false;
        setView(layout, 'both');
        fail(`The anaglyph view is not available here: ${err.message}`);
        return;
      }
    }
    requestAnimationFrame(() => loop(layout));
  }

  // The three views: the frame as delivered (with the player's controls), one eye (a CSS crop:
  // the video plays as is), and an anaglyph drawn on a canvas. Without the player's controls a
  // play button (and a tap on the picture) stand in for them.
  function setView(layout, view) {
    const frame = $('frame');
    const player = $('player');
    frame.className = view === 'one' ? `frame one-eye ${PACKED[layout]}` : `frame ${view === 'anaglyph' ? 'anaglyph' : ''}`;
    player.controls = view === 'both';
    $('play').hidden = view === 'both';
    $('anaglyph').hidden = view !== 'anaglyph';
    for (const [b, v] of [['view-both', 'both'], ['view-one', 'one'], ['view-anaglyph', 'anaglyph']]) {
      $(b).setAttribute('aria-pressed', String(view === v));
    }
    drawing = view === 'anaglyph';
    if (drawing) {
      delete $('anaglyph').dataset.frameTime;
      loop(layout);
    }
    frame.dataset.view = view;
  }

  async function showResult(job) {
    if (job.status !== 'COMPLETED') return;
    const r = await Stereo.api(`/api/jobs/${id}/results`);
    const player = $('player');
    const layout = (job.options && job.options.layout) || 'full-sbs';
    if (PACKED[layout]) {
      $('view-switch').hidden = false;
      $('view-both').onclick = () => setView(layout, 'both');
      $('view-one').onclick = () => setView(layout, 'one');
      $('view-anaglyph').onclick = () => setView(layout, 'anaglyph');
      const toggle = () => (player.paused ? player.play() : player.pause());
      $('play').onclick = toggle;
      $('frame').onclick = () => { if (!player.controls) toggle(); };
      player.addEventListener('play', () => { $('play').textContent = 'Pause'; });
      player.addEventListener('pause', () => { $('play').textContent = 'Play'; });
      // On a narrow screen a side-by-side frame is a thin strip: start with one eye there.
      setView(layout, window.innerWidth < 600 ? 'one' : 'both');
      // A top-bottom frame box takes one eye's shape (the video's width by half its height).
      player.addEventListener('loadedmetadata', () => {
        const eye = `${player.videoWidth} / ${player.videoHeight / 2}`;
        $('frame').style.setProperty('--eye-aspect', eye);
      }, { once: true });
    }
    // crossorigin="anonymous" (in the page): the canvas may read the frames of the result,
    // which comes from the storage's origin (its CORS rule allows GET from this site).
    player.src = r.final.url;
    const link = $('download');
    link.href = r.final.download_url;
    link.setAttribute('download', r.final.filename);
    $('result').hidden = false;
  }

  // ---- Live progress ---------------------------------------------------------------------

  let events = null;
  function follow() {
    const es = new EventSource(`/api/jobs/${id}/events`);
    events = es;
    es.addEventListener('progress', (e) => render(JSON.parse(e.data)));
    es.addEventListener('done', (e) => {
      es.close();
      const job = JSON.parse(e.data);
      render(job);
      showResult(job).catch((err) => fail(err.message));
    });
    es.addEventListener('missing', () => {
      es.close();
      gone();
    });
    es.addEventListener('error', () => {
      // A dropped connection is retried by the browser; a refused one (401, 404) closes it:
      // check through the API (which asks for the token on 401) and follow again.
      if (es.readyState === EventSource.CLOSED) {
        note('Reconnecting…');
        setTimeout(() => start().catch((err) => fail(err.message)), 2000);
      }
    });
  }

  function gone() {
    $('controls').hidden = true;
    $('progress').hidden = true;
    $('result').hidden = true;
    $('title').textContent = 'Job not found';
    $('status').textContent = 'Not found';
    $('status').className = 'badge';
    fail('');
    const back = Stereo.el('p', { id: 'missing' },
      'We cannot find this job: it may have been deleted, or the link is incomplete. ',
      Stereo.el('a', { href: '/jobs' }, 'See your jobs'), ' or ', Stereo.el('a', { href: '/' }, 'convert a video'), '.');
    if (!$('missing')) $('error').after(back);
  }

  async function start() {
    await Stereo.me();
    if (!/^[0-9a-f]{16}$/.test(id)) {
      gone();
      return;
    }
    let job;
    for (;;) {
      try {
        job = await Stereo.api(`/api/jobs/${id}`);
        break;
      } catch (e) {
        // A fresh upload becomes a job once a worker picks up its S3 notification.
        if (e.status === 404 && fresh) {
          note('Waiting for a worker to pick up the upload…');
          await Stereo.sleep(1000);
          continue;
        }
        if (e.status === 404) {
          gone();
          return;
        }
        throw e;
      }
    }
    render(job);
    if (job.in_progress) follow();
    else await showResult(job);
  }

  // ---- Job control -----------------------------------------------------------------------

  $('cancel').addEventListener('click', async () => {
    if (!confirm('Cancel this conversion? The work done so far is thrown away.')) return;
    $('cancel').disabled = true;
    try {
      const job = await Stereo.api(`/api/jobs/${id}/cancel`, { method: 'POST', body: '{}' });
      if (events) events.close();
      render(job);
    } catch (e) {
      fail(e.code === 'not_running' ? 'This job has already ended.' : `Cannot cancel: ${e.message}`);
    } finally {
      $('cancel').disabled = false;
    }
  });

  $('delete').addEventListener('click', async () => {
    if (!confirm('Delete this job and its files? This cannot be undone.')) return;
    $('delete').disabled = true;
    try {
      if (events) events.close();
      await Stereo.api(`/api/jobs/${id}`, { method: 'DELETE' });
      location.assign('/jobs?deleted=1');
    } catch (e) {
      $('delete').disabled = false;
      fail(`Cannot delete: ${e.message}`);
    }
  });

  async function retry(options) {
    $('retry').disabled = true;
    $('retry-new').disabled = true;
    try {
      const body = options ? { options } : {};
      const r = await Stereo.api(`/api/jobs/${id}/retry`, { method: 'POST', body: JSON.stringify(body) });
      location.assign(`/jobs/${r.job_id}?new=1`);
    } catch (e) {
      $('retry').disabled = false;
      $('retry-new').disabled = false;
      fail(e.code === 'input_gone' ? 'The uploaded file is no longer stored: upload it again.' : `Cannot try again: ${e.message}`);
    }
  }
  $('retry').addEventListener('click', () => retry(null));
  const retryOptions = Stereo.settingsForm('rt-', $('rt-settings'));
  $('retry-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    retry(retryOptions());
  });

  const rerenderOptions = Stereo.settingsForm('rr-', $('rr-settings'));
  $('rerender-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('rerender').disabled = true;
    try {
      const r = await Stereo.api(`/api/jobs/${id}/rerender`, {
        method: 'POST',
        body: JSON.stringify({ options: rerenderOptions() }),
      });
      location.assign(`/jobs/${r.job_id}?new=1`);
    } catch (e) {
      $('rerender').disabled = false;
      fail(`Cannot re-render: ${e.message}`);
    }
  });

  // For the browser test and the curious: the state the page shows.
  window.stereoJob = () => current;
  start().catch((e) => fail(e.message));
})();
