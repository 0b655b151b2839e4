// The ViTGAN edge demo: runs vitgan_<variant>.tflite (static batch 1, inputs z and
// truncation_psi) with LiteRT.js. Latents of a seed: mulberry32 uniforms, Box-Muller normals.
import {loadLiteRt, loadAndCompile, Tensor} from '@litertjs/core';

const GRID = 16;
const SCALE = 3;
const params = new URLSearchParams(location.search);
const status = (text) => { document.getElementById('status').textContent = text; };

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// z of seed `seed`: Box-Muller normals from mulberry32 uniforms (u1 in (0, 1]).
export function latents(seed, zDim) {
  const next = mulberry32(seed);
  const z = new Float32Array(zDim);
  for (let i = 0; i < zDim; i += 2) {
    const u1 = 1 - next(), u2 = next();
    const r = Math.sqrt(-2 * Math.log(u1));
    z[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < zDim) z[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return z;
}

// Spherical interpolation of two latents (they keep a Gaussian's norm).
function slerp(a, b, t) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb))));
  const out = new Float32Array(a.length);
  if (omega < 1e-6) { for (let i = 0; i < a.length; i++) out[i] = a[i] + t * (b[i] - a[i]); return out; }
  const sa = Math.sin((1 - t) * omega) / Math.sin(omega), sb = Math.sin(t * omega) / Math.sin(omega);
  for (let i = 0; i < a.length; i++) out[i] = sa * a[i] + sb * b[i];
  return out;
}

// The export's post-processing: uint8 = round((clip(x, -1, 1) + 1) * 127.5), half to even.
function toUint8(x) {
  const v = (Math.min(1, Math.max(-1, x)) + 1) * 127.5;
  const r = Math.round(v);
  return (Math.abs(v % 1) === 0.5 && r % 2 === 1) ? r - 1 : r;
}

async function chooseAccelerator() {
  const asked = params.get('accelerator');
  if (asked === 'wasm' || asked === 'webgpu') return asked;
  if (navigator.gpu) {
    try { if (await navigator.gpu.requestAdapter()) return 'webgpu'; } catch (e) { /* no GPU */ }
  }
  return 'wasm';
}

const meta = await (await fetch('./model.json')).json();
const variant = params.get('variant') || ('float32' in meta.files ? 'float32' : Object.keys(meta.files)[0]);
await loadLiteRt('./litert/core/wasm/');
let accelerator = await chooseAccelerator();
let model;
try {
  model = await loadAndCompile(`./${meta.files[variant]}`, {accelerator});
} catch (error) {
  if (accelerator === 'wasm') throw error;
  accelerator = 'wasm';  // WebGPU failed to compile the model: the CPU path
  model = await loadAndCompile(`./${meta.files[variant]}`, {accelerator});
}
document.getElementById('backend').textContent = `${accelerator.toUpperCase()} (${meta.files[variant]})`;

// One image of latent z (Float32Array) at truncation psi: uint8 pixels, [H * W * C].
async function generate(z, psi) {
  const inputs = {z: new Tensor(z, [1, meta.z_dim]),
                  truncation_psi: new Tensor(new Float32Array([psi]), [1])};
  let outputs = await model.run(inputs);
  for (const tensor of Object.values(inputs)) tensor.delete();
  let images = outputs.images_float;
  if (images.accelerator !== 'wasm') images = await images.moveTo('wasm');
  const floats = images.toTypedArray();
  const pixels = new Uint8Array(floats.length);
  for (let i = 0; i < floats.length; i++) pixels[i] = toUint8(floats[i]);
  for (const tensor of Object.values(outputs)) if (!tensor.deleted) tensor.delete();
  if (!images.deleted) images.delete();
  return pixels;
}

function draw(canvas, pixels) {
  const size = meta.image_size, c = meta.channels;
  canvas.width = size; canvas.height = size;
  canvas.style.width = canvas.style.height = `${size * SCALE}px`;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(size, size);
  for (let p = 0; p < size * size; p++) {
    for (let k = 0; k < 3; k++) image.data[4 * p + k] = pixels[p * c + (c === 1 ? 0 : k)];
    image.data[4 * p + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

// The pixels a canvas shows for z at psi (RGB, [H * W * 3]): what the browser test reads.
async function canvasPixels(z, psi) {
  const canvas = document.createElement('canvas');
  draw(canvas, await generate(Float32Array.from(z), psi));
  const data = canvas.getContext('2d').getImageData(0, 0, meta.image_size, meta.image_size).data;
  return Array.from(data.filter((_, i) => i % 4 !== 3));
}

const psiInput = document.getElementById('psi');
const psi = () => Number(psiInput.value);

async function renderGrid() {
  const grid = document.getElementById('grid');
  const seed = Math.max(0, Math.floor(Number(document.getElementById('seed').value) || 0));
  const start = performance.now();
  const canvases = [];
  for (let i = 0; i < GRID; i++) {
    const canvas = grid.children[i] || grid.appendChild(document.createElement('canvas'));
    canvas.title = `seed ${seed + i}`;
    draw(canvas, await generate(latents(seed + i, meta.z_dim), psi()));
    canvases.push(canvas);
  }
  const ms = (performance.now() - start) / GRID;
  document.getElementById('latency').textContent = `${ms.toFixed(2)} ms (mean of ${GRID})`;
  return ms;
}

async function renderInterp() {
  const t = Number(document.getElementById('t').value);
  document.getElementById('t-value').textContent = t.toFixed(2);
  const a = latents(Number(document.getElementById('seed-a').value) || 0, meta.z_dim);
  const b = latents(Number(document.getElementById('seed-b').value) || 0, meta.z_dim);
  draw(document.getElementById('interp'), await generate(slerp(a, b, t), psi()));
}

psiInput.addEventListener('input', () => {
  document.getElementById('psi-value').textContent = psi().toFixed(2);
  renderGrid(); renderInterp();
});
document.getElementById('seed').addEventListener('change', renderGrid);
for (const id of ['seed-a', 'seed-b', 't']) document.getElementById(id).addEventListener('input', renderInterp);

await renderGrid();
await renderInterp();
status(`ready: ${meta.image_size}x${meta.image_size}x${meta.channels} images, z_dim ${meta.z_dim}, LiteRT.js ${meta.litert_version}`);
window.vitgan = {meta, accelerator, latents, canvasPixels, renderGrid};
window.vitganReady = true;
