// Upload page: ask the API for a presigned upload, send the file straight to S3 with progress
// (one PUT, or the parts of a multipart upload), then go to the job page once the id is known.
'use strict';

(() => {
  const form = document.getElementById('upload-form');
  const input = document.getElementById('file');
  const start = document.getElementById('start');
  const box = document.getElementById('progress-box');
  const bar = document.getElementById('upload-progress');
  const status = document.getElementById('upload-status');
  const error = document.getElementById('error');

  function say(text) {
    status.textContent = text;
  }

  function fail(message) {
    error.textContent = message;
    error.hidden = false;
    start.disabled = false;
  }

  /** PUT `body` to a presigned URL, reporting bytes sent. */
  function put(url, body, headers, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', url);
      for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded);
      };
      xhr.onload = () =>
        xhr.status >= 200 && xhr.status < 300
          ? resolve(xhr)
          : reject(new Error(`upload refused by storage: HTTP ${xhr.status}`));
      xhr.onerror = () => reject(new Error('upload failed (network error or storage CORS)'));
      xhr.send(body);
    });
  }

  /** The job id of an uploaded key (404 until S3 has the object). */
  async function resolveJobId(hint) {
    for (let i = 0; i < 120; i++) {
      try {
        const r = await Stereo.api(hint);
        return r.job_id;
      } catch (e) {
        if (e.status !== 404) throw e;
      }
      await Stereo.sleep(1000);
    }
    throw new Error('the upload did not appear in storage');
  }

  input.addEventListener('change', () => {
    error.hidden = true;
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const file = input.files[0];
    error.hidden = true;
    if (!file) return fail('Choose a file first.');
    if (!/\.mp4$/i.test(file.name)) return fail('Only .mp4 files can be converted.');
    start.disabled = true;
    box.hidden = false;
    bar.value = 0;
    say('Preparing the upload…');
    const progress = (sent) => {
      const p = Stereo.percent(sent, file.size);
      bar.value = p;
      say(`Uploading… ${p}% (${Stereo.bytes(sent)} of ${Stereo.bytes(file.size)})`);
    };
    try {
      const created = await Stereo.api('/api/jobs', {
        method: 'POST',
        body: JSON.stringify({
          filename: file.name, size: file.size, content_type: 'video/mp4', options: chosenOptions(),
        }),
      });
      const up = created.upload;
      let jobId = null;
      if (up.kind === 'single') {
        await put(up.url, file, up.headers, progress);
      } else {
        let sent = 0;
        const parts = [];
        for (const part of up.parts) {
          const blob = file.slice(part.offset, part.offset + part.size);
          const xhr = await put(part.url, blob, up.headers, (n) => progress(sent + n));
          const etag = xhr.getResponseHeader('ETag');
          // Readable only when the bucket's CORS rule exposes ETag.
          if (!etag) throw new Error('storage did not expose the ETag of a part (bucket CORS ExposeHeaders)');
          parts.push({ part_number: part.part_number, etag });
          sent += part.size;
        }
        say('Finishing the upload…');
        const done = await Stereo.api(up.complete_url, {
          method: 'POST',
          body: JSON.stringify({ key: created.key, parts }),
        });
        jobId = done.job_id;
      }
      bar.value = 100;
      say('Uploaded. Starting the job…');
      if (!jobId) jobId = await resolveJobId(created.job_id_hint);
      location.assign(`/jobs/${jobId}?new=1`);
    } catch (e) {
      fail(e.message);
    }
  });
})();

// The 3D settings of the form, as the job API takes them.
const chosenOptions = Stereo.settingsForm('', document.getElementById('settings'));

// A still preview: one frame of the chosen file (grabbed here, in the browser) rendered by the
// server with the chosen settings, before the whole film is uploaded.
(() => {
  const file = document.getElementById('file');
  const button = document.getElementById('preview-button');
  const status = document.getElementById('preview-status');
  const img = document.getElementById('preview');

  file.addEventListener('change', () => {
    button.disabled = !file.files[0];
    img.hidden = true;
    status.textContent = '';
  });

  // A JPEG (base64) of the frame at 10 % of the video (at most 5 s in), at most 960 px wide.
  async function grab(f) {
    const url = URL.createObjectURL(f);
    try {
      const v = document.createElement('video');
      v.muted = true;
      v.preload = 'auto';
      v.src = url;
      await new Promise((ok, bad) => {
        v.addEventListener('loadedmetadata', ok, { once: true });
        v.addEventListener('error', () => bad(new Error('this browser cannot read the video to make a preview')), { once: true });
      });
      v.currentTime = Math.min(5, (v.duration || 0) * 0.1);
      await new Promise((ok) => v.addEventListener('seeked', ok, { once: true }));
      while (v.readyState < 2) await new Promise((r) => setTimeout(r, 30));
      const scale = Math.min(1, 960 / v.videoWidth);
      const c = document.createElement('canvas');
      c.width = Math.max(2, Math.round(v.videoWidth * scale / 2) * 2);
      c.height = Math.max(2, Math.round(v.videoHeight * scale / 2) * 2);
      c.getContext('2d').drawImage(v, 0, 0, c.width, c.height);
      return c.toDataURL('image/jpeg', 0.9);
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  button.addEventListener('click', async () => {
    const f = file.files[0];
    if (!f) return;
    button.disabled = true;
    status.textContent = 'Rendering a preview…';
    try {
      const image = await grab(f);
      const blob = await Stereo.api('/api/preview', {
        method: 'POST',
        raw: true,
        headers: { Accept: 'image/jpeg' },
        body: JSON.stringify({ image, options: chosenOptions() }),
      });
      if (img.src) URL.revokeObjectURL(img.src);
      await new Promise((ok, bad) => {
        img.onload = ok;
        img.onerror = () => bad(new Error('the preview image cannot be shown'));
        img.src = URL.createObjectURL(blob);
      });
      img.hidden = false;
      status.textContent = 'This is how a frame will look. Change the settings and preview again, or upload.';
    } catch (e) {
      status.textContent = `No preview: ${e.message}`;
    } finally {
      button.disabled = false;
    }
  });
})();
