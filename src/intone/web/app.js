// The Intone playground: plain JavaScript against this server's own ElevenLabs-compatible API.
"use strict";

const KEY_STORAGE = "intone-api-key";
const $ = (id) => document.getElementById(id);

// What the tests (and a curious reader in the console) can look at.
const playground = { received: 0, position: 0, state: "idle" };
window.playground = playground;

// ---- The API ----------------------------------------------------------------------------------

class ApiError extends Error {}

function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (apiKey()) headers.set("xi-api-key", apiKey());
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) throw new ApiError(await errorMessage(response));
  return response;
}

// The ElevenLabs error body: {"detail": {"status", "message"}}, or FastAPI's list for a 422.
async function errorMessage(response) {
  let detail = null;
  try {
    detail = (await response.json()).detail;
  } catch {
    // not JSON: the status line is all there is
  }
  let message = `The server answered ${response.status} ${response.statusText}.`;
  if (detail && typeof detail.message === "string") message = detail.message;
  else if (Array.isArray(detail)) message = detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  const retry = response.headers.get("retry-after");
  if (response.status === 429 && retry) message += ` Try again in ${retry} s.`;
  if (response.status === 401 && detail && detail.status === "invalid_api_key") askForKey();
  return message;
}

function showError(message) {
  const box = $("message");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $("message").hidden = true;
  $("message").textContent = "";
}

function askForKey() {
  $("key-form").hidden = false;
}

// ---- Voices and models ------------------------------------------------------------------------

let voices = [];
let models = [];

async function loadLists() {
  try {
    const [voiceList, modelList] = await Promise.all([
      api("/v1/voices").then((r) => r.json()),
      api("/v1/models").then((r) => r.json()),
    ]);
    voices = voiceList.voices;
    models = modelList.filter((m) => m.can_do_text_to_speech);
  } catch (error) {
    showError(error instanceof ApiError ? error.message : `The server could not be reached: ${error.message}`);
    return;
  }
  $("key-form").hidden = true;
  $("forget-key").hidden = !apiKey();
  fill($("voice"), voices, (v) => [v.voice_id, voiceLabel(v)], "JBFqnCBsd6RMkjVDRZzb");
  fill($("model"), models, (m) => [m.model_id, `${m.name} (${m.model_id})`], "eleven_multilingual_v2");
  for (const id of ["voice", "model", "preview", "speak", "live-toggle"]) $(id).disabled = false;
  voiceChosen();
  modelChosen();
}

function fill(select, items, option, preferred) {
  select.replaceChildren(...items.map((item) => new Option(...option(item).reverse())));
  if (items.some((item) => option(item)[0] === preferred)) select.value = preferred;
}

function voiceLabel(voice) {
  const labels = voice.labels || {};
  const about = [labels.gender, labels.accent, labels.age].filter(Boolean).join(", ");
  return about ? `${voice.name} (${about})` : voice.name;
}

function chosenVoice() {
  return voices.find((v) => v.voice_id === $("voice").value);
}

function chosenModel() {
  return models.find((m) => m.model_id === $("model").value);
}

function voiceChosen() {
  const voice = chosenVoice();
  if (!voice) return;
  const labels = Object.entries(voice.labels || {}).map(([k, v]) => `${k}: ${v}`.replaceAll("_", " "));
  $("voice-about").textContent = [voice.description, labels.join(" · ")].filter(Boolean).join(" ");
  const settings = voice.settings || {};
  for (const name of ["speed", "stability", "similarity_boost", "style"]) {
    if (typeof settings[name] === "number") $(name).value = settings[name];
    showValue(name);
  }
  if (typeof settings.use_speaker_boost === "boolean") $("use_speaker_boost").checked = settings.use_speaker_boost;
}

function modelChosen() {
  const model = chosenModel();
  if (model) $("model-about").textContent = model.description;
  countCharacters();
}

function showValue(name) {
  $(`${name}-value`).textContent = Number($(name).value).toFixed(2);
}

function voiceSettings() {
  const settings = { use_speaker_boost: $("use_speaker_boost").checked };
  for (const name of ["speed", "stability", "similarity_boost", "style"]) settings[name] = Number($(name).value);
  return settings;
}

function countCharacters() {
  const model = chosenModel();
  const count = Array.from($("text").value).length;
  const limit = model ? model.maximum_text_length_per_request : null;
  $("count").textContent = limit ? `${count.toLocaleString()} of ${limit.toLocaleString()} characters` : "";
  $("count").classList.toggle("over", Boolean(limit && count > limit));
}

function preview() {
  const voice = chosenVoice();
  if (!voice || !voice.preview_url) return;
  const audio = $("preview-audio");
  $("status").textContent = `Playing ${voice.name}'s preview (made the first time it is asked for).`;
  audio.src = voice.preview_url;
  audio.play().catch((error) => showError(`The preview could not play: ${error.message}`));
}

// ---- Players ----------------------------------------------------------------------------------

// Raw 16-bit PCM played with Web Audio, each piece queued right after the one before as it arrives.
class PcmPlayer {
  constructor(sampleRate) {
    this.rate = sampleRate;
    this.context = new AudioContext({ sampleRate });
    this.next = 0;
    this.media = 0; // seconds of audio queued so far
    this.spans = []; // [context time it starts, media time it starts, duration]
    this.rest = null; // an odd byte waiting for its pair
    this.chunks = [];
  }

  push(bytes) {
    this.chunks.push(bytes);
    if (this.rest) {
      bytes = concat([this.rest, bytes]);
      this.rest = null;
    }
    if (bytes.length % 2) {
      this.rest = bytes.slice(-1);
      bytes = bytes.slice(0, -1);
    }
    if (!bytes.length) return;
    const samples = new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const buffer = this.context.createBuffer(1, samples.length, this.rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    // A piece that comes late starts a little ahead, not at once, so the next one can follow it without a gap.
    const when = Math.max(this.next, this.context.currentTime + 0.05);
    source.start(when);
    this.spans.push([when, this.media, buffer.duration]);
    this.media += buffer.duration;
    this.next = when + buffer.duration;
  }

  end() {}

  position() {
    const now = this.context.currentTime;
    for (let i = this.spans.length - 1; i >= 0; i--) {
      const [start, media, duration] = this.spans[i];
      if (start <= now) return media + Math.min(now - start, duration);
    }
    return 0;
  }

  playing() {
    return this.context.state === "running" && this.context.currentTime < this.next;
  }

  file() {
    const data = concat(this.chunks);
    return new Blob([wavHeader(this.rate, data.length), data], { type: "audio/wav" });
  }

  stop() {
    this.context.close();
  }
}

// MP3 through Media Source Extensions: the audio element plays what has been appended so far.
class Mp3Player {
  constructor() {
    this.audio = new Audio();
    this.source = new MediaSource();
    this.queue = [];
    this.chunks = [];
    this.done = false;
    this.audio.src = URL.createObjectURL(this.source);
    this.source.addEventListener("sourceopen", () => {
      this.buffer = this.source.addSourceBuffer("audio/mpeg");
      this.buffer.addEventListener("updateend", () => this.pump());
      this.pump();
    }, { once: true });
  }

  push(bytes) {
    this.chunks.push(bytes);
    this.queue.push(bytes);
    this.pump();
  }

  end() {
    this.done = true;
    this.pump();
  }

  pump() {
    if (!this.buffer || this.buffer.updating) return;
    if (this.queue.length) {
      this.buffer.appendBuffer(this.queue.shift());
      if (this.audio.paused && !this.started) {
        this.started = true;
        this.audio.play().catch((error) => showError(`The audio could not play: ${error.message}`));
      }
    } else if (this.done && this.source.readyState === "open") {
      this.source.endOfStream();
    }
  }

  position() {
    return this.audio.currentTime;
  }

  playing() {
    return !this.audio.paused && !this.audio.ended;
  }

  file() {
    return new Blob(this.chunks, { type: "audio/mpeg" });
  }

  stop() {
    this.audio.pause();
    URL.revokeObjectURL(this.audio.src);
  }
}

function playerFor(format) {
  const [codec, rate] = format.split("_");
  return codec === "pcm" ? new PcmPlayer(Number(rate)) : new Mp3Player();
}

function concat(parts) {
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.length;
  }
  return whole;
}

function wavHeader(rate, size) {
  const header = new DataView(new ArrayBuffer(44));
  const text = (at, s) => [...s].forEach((c, i) => header.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF");
  header.setUint32(4, 36 + size, true);
  text(8, "WAVEfmt ");
  header.setUint32(16, 16, true);
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, rate, true);
  header.setUint32(28, rate * 2, true);
  header.setUint16(32, 2, true);
  header.setUint16(34, 16, true);
  text(36, "data");
  header.setUint32(40, size, true);
  return header.buffer;
}

function decodeBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// ---- Speak, with the read-along -----------------------------------------------------------------

let speaking = null; // {player, abort, starts, words}

// The text's words as spans; `starts` fills in from the alignment (one time per character of the text).
function readAlong(text) {
  const box = $("readalong");
  const characters = Array.from(text);
  const words = [];
  box.replaceChildren();
  let at = 0;
  for (const match of characters.join("").matchAll(/\S+|\s+/gu)) {
    const length = Array.from(match[0]).length;
    if (/\S/u.test(match[0])) {
      const span = document.createElement("span");
      span.className = "word";
      span.dataset.index = String(words.length);
      span.textContent = match[0];
      words.push({ first: at, span });
      box.append(span);
    } else {
      box.append(match[0]);
    }
    at += length;
  }
  return words;
}

function highlight(state) {
  const time = state.player.position();
  playground.position = time;
  let current = state.current;
  while (current + 1 < state.words.length) {
    const start = state.starts[state.words[current + 1].first];
    if (start === undefined || start > time) break;
    current++;
  }
  if (current === state.current) return;
  for (let i = Math.max(state.current, 0); i < current; i++) {
    state.words[i].span.classList.remove("current");
    state.words[i].span.classList.add("spoken");
  }
  const span = state.words[current].span;
  span.classList.add("current");
  span.scrollIntoView({ block: "nearest" });
  state.current = current;
}

function follow(state) {
  if (speaking !== state) return;
  highlight(state);
  if (state.finished && !state.player.playing() && state.player.position() > 0) {
    setState("done");
    $("status").textContent = `Done: ${state.player.position().toFixed(1)} s of audio.`;
    state.words.forEach((word) => word.span.classList.remove("current"));
    finish();
    return;
  }
  requestAnimationFrame(() => follow(state));
}

function setState(state) {
  playground.state = state;
  document.body.dataset.state = state;
}

async function speak() {
  clearError();
  stopSpeaking();
  const voice = $("voice").value;
  const format = $("format").value;
  const text = $("text").value;
  const state = { player: playerFor(format), abort: new AbortController(), starts: [], words: [], current: -1, finished: false };
  $("readalong").replaceChildren();
  speaking = state;
  playground.received = 0;
  setState("requesting");
  $("speak").disabled = true;
  $("stop").disabled = false;
  setDownload(null);
  $("status").textContent = "Asking the server…";
  try {
    const response = await api(`/v1/text-to-speech/${encodeURIComponent(voice)}/stream/with-timestamps?output_format=${format}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text, model_id: $("model").value, voice_settings: voiceSettings() }),
      signal: state.abort.signal,
    });
    setState("streaming");
    $("status").textContent = "Streaming…";
    state.words = readAlong(text);
    requestAnimationFrame(() => follow(state));
    await readLines(response, (line) => {
      if (line.audio_base64) {
        const bytes = decodeBase64(line.audio_base64);
        playground.received += bytes.length;
        state.player.push(bytes);
      }
      if (line.alignment) state.starts.push(...line.alignment.character_start_times_seconds);
    });
    state.player.end();
    state.finished = true;
    setDownload(state.player.file(), format);
    if (speaking === state) {
      setState("playing");
      $("status").textContent = "All audio received; playing.";
    }
  } catch (error) {
    if (error.name === "AbortError") return;
    showError(error instanceof ApiError ? error.message : `Speaking failed: ${error.message}`);
    $("status").textContent = "";
    setState("failed");
    state.player.stop();
    finish();
  }
}

// NDJSON, one object per line, read as it arrives.
async function readLines(response, each) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    pending += decoder.decode(value || new Uint8Array(), { stream: !done });
    const lines = pending.split("\n");
    pending = lines.pop();
    for (const line of lines) if (line.trim()) each(JSON.parse(line));
    if (done) break;
  }
  if (pending.trim()) each(JSON.parse(pending));
}

function finish() {
  $("speak").disabled = false;
  $("stop").disabled = true;
}

function stopSpeaking() {
  if (!speaking) return;
  speaking.abort.abort();
  speaking.player.stop();
  speaking = null;
  setState("idle");
  finish();
}

function setDownload(blob, format) {
  const link = $("download");
  if (link.href) URL.revokeObjectURL(link.href);
  if (!blob) {
    link.removeAttribute("href");
    link.setAttribute("aria-disabled", "true");
    return;
  }
  const extension = format.startsWith("pcm") ? "wav" : "mp3";
  link.href = URL.createObjectURL(blob);
  link.download = `intone-${$("voice").value}-${new Date().toISOString().replace(/[:.]/g, "-")}.${extension}`;
  link.setAttribute("aria-disabled", "false");
}

// ---- Live mode: the stream-input WebSocket ------------------------------------------------------

const LIVE_FORMAT = "pcm_24000";
const LIVE_PAUSE_MS = 700;
let live = null; // {socket, player, sent, timer}

async function startLive() {
  clearError();
  let token;
  try {
    const response = await api("/v1/single-use-token/tts_websocket", { method: "POST" });
    token = (await response.json()).token;
  } catch (error) {
    showError(error instanceof ApiError ? error.message : `Live mode could not start: ${error.message}`);
    return;
  }
  const query = new URLSearchParams({
    model_id: $("model").value,
    output_format: LIVE_FORMAT,
    inactivity_timeout: "180",
    single_use_token: token,
  });
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${location.host}/v1/text-to-speech/${encodeURIComponent($("voice").value)}/stream-input?${query}`;
  const state = { socket: new WebSocket(url), player: new PcmPlayer(24000), sent: "", timer: null };
  live = state;
  playground.liveReceived = 0;
  state.socket.addEventListener("open", () => {
    // A short schedule: each few words are spoken without waiting for a long buffer.
    state.socket.send(JSON.stringify({
      text: " ",
      voice_settings: voiceSettings(),
      generation_config: { chunk_length_schedule: [50] },
    }));
    $("live-text").disabled = false;
    $("live-text").focus();
    $("live-status").textContent = "Live: type, and pause to hear it.";
    setLiveButton(true);
  });
  state.socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.error) showError(message.message || message.error);
    if (message.audio) {
      const bytes = decodeBase64(message.audio);
      playground.liveReceived += bytes.length;
      state.player.push(bytes);
      $("live-status").textContent = `Live: ${state.player.media.toFixed(1)} s spoken so far.`;
    }
  });
  state.socket.addEventListener("close", () => {
    if (live !== state) return;
    live = null;
    clearTimeout(state.timer);
    $("live-text").disabled = true;
    $("live-status").textContent = "Live mode ended.";
    setLiveButton(false);
  });
}

// Sends the words typed since the last send; `all` also sends an unfinished last word, and flushes.
function sendLive(all) {
  if (!live || live.socket.readyState !== WebSocket.OPEN) return;
  const text = $("live-text").value;
  if (!text.startsWith(live.sent)) {
    // Text already sent cannot be taken back: start counting again from what is there now.
    live.sent = text;
    return;
  }
  const fresh = text.slice(live.sent.length);
  const words = fresh.match(/^[\s\S]*\s/u); // up to the last space: the words finished so far
  const piece = all ? fresh : words ? words[0] : "";
  if (!piece.trim()) return;
  live.sent += piece;
  // The protocol wants each text to end with a space.
  live.socket.send(JSON.stringify({ text: /\s$/u.test(piece) ? piece : `${piece} `, flush: all }));
}

function typedLive(event) {
  if (!live) return;
  if (event.type === "keydown" && event.key !== "Enter") return;
  clearTimeout(live.timer);
  sendLive(event.type === "keydown");
  live.timer = setTimeout(() => sendLive(true), LIVE_PAUSE_MS);
}

function stopLive() {
  if (!live) return;
  sendLive(true);
  live.socket.send(JSON.stringify({ text: "" })); // the end of input: the rest is spoken, then it closes
  $("live-status").textContent = "Finishing what is left…";
}

function setLiveButton(on) {
  $("live-toggle").textContent = on ? "Stop live mode" : "Start live mode";
  $("live-toggle").setAttribute("aria-pressed", String(on));
}

// ---- Speech to text ------------------------------------------------------------------------------

let recorder = null;

async function transcribe(file, name) {
  clearError();
  const form = new FormData();
  form.append("model_id", "scribe_v1");
  form.append("file", file, name);
  $("transcribe").disabled = true;
  $("transcribe-status").textContent = `Transcribing ${name}…`;
  $("transcript").textContent = "";
  try {
    const result = await (await api("/v1/speech-to-text", { method: "POST", body: form })).json();
    $("transcript").textContent = result.text;
    $("transcribe-status").textContent = `Transcribed (language: ${result.language_code}).`;
  } catch (error) {
    showError(error instanceof ApiError ? error.message : `Transcribing failed: ${error.message}`);
    $("transcribe-status").textContent = "";
  } finally {
    $("transcribe").disabled = !$("recording").files.length;
  }
}

async function record() {
  if (recorder) {
    recorder.stop();
    return;
  }
  clearError();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    showError(`The microphone could not be opened: ${error.message}`);
    return;
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.addEventListener("dataavailable", (event) => chunks.push(event.data));
  recorder.addEventListener("stop", () => {
    stream.getTracks().forEach((track) => track.stop());
    recorder = null;
    setRecordButton(false);
    const type = chunks.length ? chunks[0].type : "audio/webm";
    transcribe(new Blob(chunks, { type }), "recording.webm");
  });
  recorder.start();
  setRecordButton(true);
  $("transcribe-status").textContent = "Recording… press Stop recording when done.";
}

function setRecordButton(on) {
  $("record").textContent = on ? "Stop recording" : "Record";
  $("record").setAttribute("aria-pressed", String(on));
}

// ---- Wiring ------------------------------------------------------------------------------------

function start() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(KEY_STORAGE, $("key").value.trim());
    $("key").value = "";
    clearError();
    loadLists();
  });
  $("forget-key").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORAGE);
    location.reload();
  });
  $("voice").addEventListener("change", voiceChosen);
  $("model").addEventListener("change", modelChosen);
  $("preview").addEventListener("click", preview);
  $("text").addEventListener("input", countCharacters);
  for (const name of ["speed", "stability", "similarity_boost", "style"]) $(name).addEventListener("input", () => showValue(name));
  $("speak").addEventListener("click", speak);
  $("stop").addEventListener("click", stopSpeaking);
  $("download").addEventListener("click", (event) => {
    if ($("download").getAttribute("aria-disabled") === "true") event.preventDefault();
  });
  $("live-toggle").addEventListener("click", () => (live ? stopLive() : startLive()));
  $("live-text").addEventListener("input", typedLive);
  $("live-text").addEventListener("keydown", typedLive);
  $("recording").addEventListener("change", () => ($("transcribe").disabled = !$("recording").files.length));
  $("transcribe").addEventListener("click", () => transcribe($("recording").files[0], $("recording").files[0].name));
  // The microphone is offered only where the browser allows it (this machine, or HTTPS).
  $("record").disabled = !(navigator.mediaDevices && window.MediaRecorder);
  $("record").addEventListener("click", record);
  setState("idle");
  loadLists();
}

start();
