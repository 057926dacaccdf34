// Jobs page: the in-progress, completed and failed lists, newest first, with "show more"
// pagination; the first page of the in-progress list refreshes every 5 s.
'use strict';

(() => {
  const PAGE = 20;
  const error = document.getElementById('error');

  function item(job) {
    let sub;
    if (job.status === 'COMPLETED') {
      sub = `finished ${Stereo.time(job.completed_at)}, took ${Stereo.duration(job.completed_at - job.created_at)}`;
    } else if (job.status === 'FAILED') {
      sub = `could not be converted: ${Stereo.plain(job.error)}`;
    } else if (job.status === 'CANCELLED') {
      sub = `cancelled ${Stereo.time(job.completed_at)}`;
    } else {
      const pct = job.frames_total ? `, ${Stereo.percent(job.frames_done, job.frames_total)} %` : '';
      sub = `uploaded ${Stereo.time(job.created_at)}${pct}`;
    }
    const thumb = Stereo.el('img', { class: 'thumb', alt: '', loading: 'lazy' });
    thumb.hidden = true;
    if (job.thumbnail_url) {
      thumb.onload = () => { thumb.hidden = false; };
      thumb.src = job.thumbnail_url;
    }
    return Stereo.el('li', {},
      Stereo.el('a', { href: `/jobs/${job.job_id}`, 'data-job-id': job.job_id },
        thumb,
        Stereo.el('span', { class: 'name' }, job.name),
        Stereo.el('span', { class: `badge ${job.status}` }, Stereo.words(job.status)),
        Stereo.el('span', { class: 'sub' }, sub)));
  }

  function list(name) {
    const section = document.querySelector(`section[data-list="${name}"]`);
    const ul = section.querySelector('ul');
    const empty = section.querySelector('.empty');
    const more = section.querySelector('.more');
    let cursor = null;
    let pages = 0;

    async function load(reset) {
      const params = new URLSearchParams({ status: name, limit: String(PAGE) });
      if (!reset && cursor) params.set('cursor', cursor);
      try {
        const page = await Stereo.api(`/api/jobs?${params}`);
        if (reset) {
          ul.replaceChildren();
          pages = 0;
        }
        pages++;
        for (const job of page.jobs) ul.append(item(job));
        cursor = page.next_cursor;
        more.hidden = !cursor;
        empty.hidden = ul.children.length > 0;
        error.hidden = true;
      } catch (e) {
        error.textContent = `Could not load the ${name.replace('_', ' ')} list: ${e.message}`;
        error.hidden = false;
      }
    }

    more.addEventListener('click', () => load(false));
    return { load, onlyFirstPage: () => pages <= 1 };
  }

  if (new URLSearchParams(location.search).has('deleted')) {
    const n = document.getElementById('notice');
    n.textContent = 'The job and its files were deleted.';
    n.hidden = false;
  }
  Stereo.me().catch((e) => {
    error.textContent = e.message;
    error.hidden = false;
  });
  const running = list('in_progress');
  const completed = list('completed');
  const failed = list('failed');
  running.load(true);
  completed.load(true);
  failed.load(true);
  setInterval(() => {
    // Refresh while the user has not paged further (that would lose their place).
    if (document.visibilityState === 'visible' && running.onlyFirstPage()) {
      running.load(true);
      if (completed.onlyFirstPage()) completed.load(true);
    }
  }, 5000);
})();
