// Upload page: choose or drop a file. A video: ask the API for a presigned upload, send the file
// straight to S3 with progress (one PUT, or the parts of a multipart upload), then go to the job
// page once the id is known. A photo: rendered in 3D at once through the preview endpoint.
'use strict';

// The 3D settings of the form, as the job API takes them.
const chosenOptions = Stereo.settingsForm('', document.getElementById('settings'));

(() => {
  const $ = (x) => document.getElementById(x);
  const form = $('upload-form');
  const input = $('file');
  const drop = $('drop');
  const start = $('start');
  const box = $('progress-box');
  const bar = $('upload-progress');
  const status = $('upload-status');
  const error = $('error');
  const previewButton = $('preview-button');
  const previewStatus = $('preview-status');
  const previewImg = $('preview');
  let chosen = null;

  Stereo.me().catch((e) => fail(e.message));

  function say(text) {
    status.textContent = text;
  }

  function fail(message) {
    error.textContent = message;
    error.hidden = false;
    start.disabled = false;
  }

  /** Take `file` (picked or dropped) if the service can convert it; the same checks for both. */
  function choose(file) {
    error.hidden = true;
    $('photo-result').hidden = true;
    previewImg.hidden = true;
    previewStatus.textContent = '';
    const kind = file ? Stereo.kindOf(file.name) : null;
    if (!file) {
      chosen = null;
    } else if (!kind) {
      chosen = null;
      fail(`"${file.name}" is not a video or photo we can convert. Videos: ${Stereo.VIDEO_EXT.join(', ')}; photos: ${Stereo.PHOTO_EXT.join(', ')}.`);
    } else if (file.size === 0) {
      chosen = null;
      fail(`"${file.name}" is empty.`);
    } else {
      chosen = { file, kind };
    }
    $('chosen').textContent = chosen
      ? `Chosen: ${file.name} (${kind}, ${Stereo.bytes(file.size)})`
      : '';
    drop.classList.toggle('has-file', !!chosen);
    previewButton.disabled = !chosen || chosen.kind !== 'video';
    previewButton.hidden = !!chosen && chosen.kind === 'photo';
    start.textContent = chosen && chosen.kind === 'photo' ? 'Make the 3D photo' : 'Upload and convert';
  }

  input.addEventListener('change', () => choose(input.files[0]));
  drop.addEventListener('click', () => input.click());
  drop.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      input.click();
    }
  });
  for (const name of ['dragenter', 'dragover']) {
    drop.addEventListener(name, (ev) => {
      ev.preventDefault();
      drop.classList.add('dragging');
    });
  }
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('dragging');
    const files = ev.dataTransfer && ev.dataTransfer.files;
    if (!files || files.length === 0) return;
    if (files.length > 1) {
      fail('Drop one file at a time.');
      return;
    }
    choose(files[0]);
  });
  // A file dropped beside the box must not make the browser leave the page to show it.
  window.addEventListener('dragover', (ev) => ev.preventDefault());
  window.addEventListener('drop', (ev) => ev.preventDefault());

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
          : reject(new Error(`the storage refused the upload (HTTP ${xhr.status})`));
      xhr.onerror = () => reject(new Error('the upload failed (network error)'));
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
    throw new Error('the upload did not arrive in storage');
  }

  async function uploadVideo(file) {
    box.hidden = false;
    bar.value = 0;
    say('Preparing the upload…');
    const progress = (sent) => {
      const p = Stereo.percent(sent, file.size);
      bar.value = p;
      say(`Uploading… ${p} % (${Stereo.bytes(sent)} of ${Stereo.bytes(file.size)})`);
    };
    const created = await Stereo.api('/api/jobs', {
      method: 'POST',
      body: JSON.stringify({
        filename: file.name, size: file.size, content_type: file.type || '', options: chosenOptions(),
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
        if (!etag) throw new Error('the storage did not confirm a part of the upload (bucket CORS ExposeHeaders)');
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
    say('Uploaded. Starting the conversion…');
    if (!jobId) jobId = await resolveJobId(created.job_id_hint);
    location.assign(`/jobs/${jobId}?new=1`);
  }

  /** A JPEG data URL of `source` (a video frame or a photo) at most `max` px a side. */
  function jpeg(source, w, h, max) {
    const scale = Math.min(1, max / Math.max(w, h));
    const c = document.createElement('canvas');
    c.width = Math.max(2, Math.round((w * scale) / 2) * 2);
    c.height = Math.max(2, Math.round((h * scale) / 2) * 2);
    c.getContext('2d').drawImage(source, 0, 0, c.width, c.height);
    return c.toDataURL('image/jpeg', 0.92);
  }

  async function render3d(image) {
    return Stereo.api('/api/preview', {
      method: 'POST',
      raw: true,
      headers: { Accept: 'image/jpeg' },
      body: JSON.stringify({ image, options: chosenOptions() }),
    });
  }

  function showBlob(img, blob) {
    if (img.src && img.src.startsWith('blob:')) URL.revokeObjectURL(img.src);
    return new Promise((ok, bad) => {
      img.onload = ok;
      img.onerror = () => bad(new Error('the 3D image cannot be shown'));
      img.src = URL.createObjectURL(blob);
    });
  }

  // A photo: decoded here with its EXIF orientation, at most 2048 px a side (the preview's
  // limit), rendered by the server with the chosen settings; no job.
  async function convertPhoto(file) {
    box.hidden = false;
    bar.removeAttribute('value');
    say('Making your 3D photo…');
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch (_) {
      throw new Error(`"${file.name}" is not a photo this browser can read.`);
    }
    const blob = await render3d(jpeg(bitmap, bitmap.width, bitmap.height, 2048));
    await showBlob($('photo-3d'), blob);
    const link = $('photo-download');
    link.href = $('photo-3d').src;
    link.setAttribute('download', `${file.name.replace(/\.[^.]+$/, '')}-3d.jpg`);
    $('photo-result').hidden = false;
    bar.value = 100;
    say('Done: your 3D photo is below.');
    start.disabled = false;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    if (!chosen) return fail('Choose or drop a video or a photo first.');
    start.disabled = true;
    try {
      if (chosen.kind === 'photo') await convertPhoto(chosen.file);
      else await uploadVideo(chosen.file);
    } catch (e) {
      box.hidden = true;
      fail(e.message);
    }
  });

  // A still preview: one frame of the chosen video (grabbed here, in the browser) rendered by
  // the server with the chosen settings, before the whole film is uploaded.
  async function grab(f) {
    const url = URL.createObjectURL(f);
    try {
      const v = document.createElement('video');
      v.muted = true;
      v.preload = 'auto';
      v.src = url;
      await new Promise((ok, bad) => {
        v.addEventListener('loadedmetadata', ok, { once: true });
        v.addEventListener('error', () => bad(new Error('this browser cannot play this video, so it cannot show a preview (the conversion itself still works)')), { once: true });
      });
      v.currentTime = Math.min(5, (v.duration || 0) * 0.1);
      await new Promise((ok) => v.addEventListener('seeked', ok, { once: true }));
      while (v.readyState < 2) await new Promise((r) => setTimeout(r, 30));
      return jpeg(v, v.videoWidth, v.videoHeight, 960);
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  previewButton.addEventListener('click', async () => {
    if (!chosen || chosen.kind !== 'video') return;
    previewButton.disabled = true;
    previewStatus.textContent = 'Rendering a preview…';
    try {
      await showBlob(previewImg, await render3d(await grab(chosen.file)));
      previewImg.hidden = false;
      previewStatus.textContent = 'This is how a frame will look. Change the settings and preview again, or upload.';
    } catch (e) {
      previewStatus.textContent = `No preview: ${e.message}`;
    } finally {
      previewButton.disabled = false;
    }
  });
})();
