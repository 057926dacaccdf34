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

  function fact(dt, dd) {
    if (dd !== '' && dd !== null && dd !== undefined) {
      $('facts').append(Stereo.el('dt', {}, dt), Stereo.el('dd', {}, String(dd)));
    }
  }

  function render(job) {
    document.title = `StereoSpot · ${job.name}`;
    $('title').textContent = job.name;
    const badge = $('status');
    badge.textContent = job.status;
    badge.className = `badge ${job.status}`;
    $('progress').hidden = !job.in_progress && job.status !== 'COMPLETED';
    const segTotal = job.segments_total;
    $('segments').value = Stereo.percent(job.segments_done, segTotal);
    $('segments-text').textContent = segTotal
      ? `Segments: ${job.segments_done} of ${segTotal}`
      : 'Segments: splitting the video…';
    const frameTotal = job.frames_total;
    $('frames').value = Stereo.percent(job.frames_done, frameTotal);
    $('frames-text').textContent = frameTotal
      ? `Frames: ${job.frames_done} of ${frameTotal}`
      : `Frames: ${job.frames_done}`;
    note(job.in_progress ? 'Working…' : '');
    $('facts').replaceChildren();
    fact('Job', job.job_id);
    fact('Uploaded', Stereo.time(job.created_at));
    fact('Finished', Stereo.time(job.completed_at));
    if (job.completed_at) fact('Took', Stereo.duration(job.completed_at - job.created_at));
    if (job.width) fact('Input', `${job.width}×${job.height}, ${job.duration_seconds.toFixed(1)} s`);
    if (job.options) {
      const o = job.options;
      fact('3D settings', [
        o.layout ? `format ${o.layout}` : 'default format',
        o.divergence !== undefined ? `strength ${o.divergence} %` : null,
        o.convergence !== undefined ? `screen depth ${o.convergence}` : null,
      ].filter(Boolean).join(', '));
    }
    if (job.error) fail(job.error);
  }

  async function showResult(job) {
    if (job.status !== 'COMPLETED') return;
    const r = await Stereo.api(`/api/jobs/${id}/results`);
    const player = $('player');
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
      fail('This is not a job id.');
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
        throw e;
      }
    }
    render(job);
    if (job.in_progress) follow();
    else await showResult(job);
  }

  start().catch((e) => fail(e.message));
})();
