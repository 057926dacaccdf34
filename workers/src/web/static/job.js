// Job page: live progress over Server-Sent Events, then the player and a download link.
'use strict';

(() => {
  const id = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
  const fresh = new URLSearchParams(location.search).has('new');
  const $ = (x) => document.getElementById(x);

  function note(text) {
    $('note').textContent = text;
  }

  function fail(message) {
    $('error').textContent = message;
    $('error').hidden = false;
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
  function progressText(job) {
    const total = job.frames_total;
    const done = job.frames_done;
    if (job.status === 'QUEUED' || job.status === 'CHUNKING' || !total) return `${Stereo.words(job.status)}…`;
    const pct = Stereo.percent(done, total);
    if (job.status === 'COMPLETED') return `Done: ${total} of ${total} frames`;
    if (job.status === 'REASSEMBLING') return `Finishing: ${done} of ${total} frames converted`;
    seen.push([Date.now(), done]);
    while (seen.length > 20) seen.shift();
    let rest = '';
    if (seen.length >= 2) {
      const [t0, f0] = seen[0];
      const [t1, f1] = seen[seen.length - 1];
      const rate = (f1 - f0) / Math.max(0.001, (t1 - t0) / 1000);
      if (rate > 0) {
        const left = Stereo.duration(((total - done) / rate) * 1000);
        rest = `, ${rate.toFixed(0)} frames/s, about ${left} left`;
      }
    }
    return `${Stereo.words(job.status)}: ${pct} % (${done} of ${total} frames${rest})`;
  }

  function render(job) {
    document.title = `StereoSpot · ${job.name}`;
    $('title').textContent = job.name;
    const badge = $('status');
    badge.textContent = Stereo.words(job.status);
    badge.className = `badge ${job.status}`;
    $('progress').hidden = !job.in_progress && job.status !== 'COMPLETED';
    $('frames').value = job.status === 'COMPLETED' ? 100 : Stereo.percent(job.frames_done, job.frames_total);
    $('frames-text').textContent = progressText(job);
    note(job.status === 'QUEUED' ? 'Waiting for a free worker…' : '');
    $('facts').replaceChildren();
    $('tech').replaceChildren();
    fact('Uploaded', Stereo.time(job.created_at));
    fact('Finished', Stereo.time(job.completed_at));
    if (job.completed_at) fact('Took', Stereo.duration(job.completed_at - job.created_at));
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
    if (job.segments_total) fact('Pieces', `${job.segments_done} of ${job.segments_total} converted`, 'tech');
    if (job.error) {
      fail(`Failed: ${plain(job.error)}`);
      fact('Error', job.error, 'tech');
    }
  }

  // The reason without our storage key or tool names (those are under Details).
  function plain(reason) {
    return reason
      .replace(/^input\/[0-9a-f]{32}-/, '')
      .replace(/^[^:]*\.mp4: /, '')
      .replace(/ffmpeg (can|cannot) /g, 'we $1 ')
      .replace(/\bffmpeg\b:? ?/g, '');
  }

  // Packed layouts whose left eye can be shown alone: which half holds it.
  const ONE_EYE = {
    'full-sbs': 'left', 'half-sbs': 'left', 'cross-eyed': 'left', 'full-tb': 'top', 'half-tb': 'top',
  };

  // "One eye": the frame box crops the video to one view (CSS only: the video plays as is).
  // The player's own controls are cropped away with one eye shown: a play button and a tap on
  // the picture stand in for them.
  function setView(layout, one) {
    const frame = $('frame');
    frame.className = one ? `frame one-eye ${ONE_EYE[layout]}` : 'frame';
    $('player').controls = !one;
    $('play').hidden = !one;
    $('view-both').setAttribute('aria-pressed', String(!one));
    $('view-one').setAttribute('aria-pressed', String(one));
  }

  async function showResult(job) {
    if (job.status !== 'COMPLETED') return;
    const r = await Stereo.api(`/api/jobs/${id}/results`);
    const player = $('player');
    const layout = (job.options && job.options.layout) || 'full-sbs';
    if (ONE_EYE[layout]) {
      $('view-switch').hidden = false;
      $('view-both').onclick = () => setView(layout, false);
      $('view-one').onclick = () => setView(layout, true);
      const toggle = () => (player.paused ? player.play() : player.pause());
      $('play').onclick = toggle;
      $('frame').onclick = () => { if (!player.controls) toggle(); };
      player.addEventListener('play', () => { $('play').textContent = 'Pause'; });
      player.addEventListener('pause', () => { $('play').textContent = 'Play'; });
      // On a narrow screen a side-by-side frame is a thin strip: start with one eye there.
      setView(layout, window.innerWidth < 600);
      // A top-bottom frame box takes one eye's shape (the video's width by half its height).
      player.addEventListener('loadedmetadata', () => {
        const eye = `${player.videoWidth} / ${player.videoHeight / 2}`;
        $('frame').style.setProperty('--eye-aspect', eye);
      }, { once: true });
    }
    player.src = r.final.url;
    const link = $('download');
    link.href = r.final.download_url;
    link.setAttribute('download', r.final.filename);
    $('result').hidden = false;
  }

  function follow() {
    const es = new EventSource(`/api/jobs/${id}/events`);
    es.addEventListener('progress', (e) => render(JSON.parse(e.data)));
    es.addEventListener('done', (e) => {
      es.close();
      const job = JSON.parse(e.data);
      render(job);
      showResult(job).catch((err) => fail(err.message));
    });
    es.addEventListener('missing', () => {
      es.close();
      fail('This job no longer exists.');
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

  async function start() {
    if (!/^[0-9a-f]{16}$/.test(id)) {
      fail('This link does not point to a job. Your jobs are listed under Jobs.');
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
          fail('We cannot find this job. It may have been deleted, or the link is incomplete.');
          return;
        }
        throw e;
      }
    }
    render(job);
    if (job.in_progress) follow();
    else await showResult(job);
  }

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

  start().catch((e) => fail(e.message));
})();
