// Time travel: a slider over a past window (the last 24 hours, one step a
// minute) that replays the sites as they were, from GET /api/v1/snapshot
// (values and freshness from InfluxDB), and "Torna in diretta". While in
// the past the live stream keeps the page's copy current but the map
// shows the past; the header says so.

import { T, clock, dateTime } from './i18n.js';

const WINDOW_MIN = 24 * 60;

/** TimeTravel drives the slider; onPast(snapshot) and onLive() switch what the map shows. */
export class TimeTravel {
  constructor({ api, onPast, onLive }) {
    this.api = api;
    this.onPast = onPast;
    this.onLive = onLive;
    this.at = null; // the moment shown, null when live
    this.seq = 0;
    this.slider = document.getElementById('tt-slider');
    this.label = document.getElementById('tt-label');
    this.live = document.getElementById('tt-live');
    this.slider.min = String(-WINDOW_MIN);
    this.slider.max = '0';
    this.slider.step = '1';
    this.slider.value = '0';
    let timer = 0;
    this.slider.addEventListener('input', () => {
      this.showLabel();
      clearTimeout(timer);
      timer = setTimeout(() => this.go(), 150);
    });
    this.slider.addEventListener('change', () => { clearTimeout(timer); this.go(); });
    this.live.addEventListener('click', () => this.backToLive());
    this.showLabel();
  }

  /** The moment the slider points at (whole minutes back from now). */
  target() {
    const m = Number(this.slider.value);
    if (m >= 0) return null;
    const now = new Date();
    now.setSeconds(0, 0);
    return new Date(now.getTime() + m * 60000);
  }

  showLabel() {
    const t = this.target();
    this.label.textContent = t ? `${dateTime(t)}` : T.live;
    this.live.hidden = !t;
  }

  /** Goes to the slider's moment (or live at 0). */
  async go() {
    const t = this.target();
    if (!t) { this.backToLive(); return; }
    await this.show(t);
  }

  /** Shows the sites at moment t. */
  async show(t) {
    const seq = ++this.seq;
    const snap = await this.api(`/snapshot?at=${encodeURIComponent(t.toISOString())}`);
    if (seq !== this.seq) return; // a later move won
    this.at = t;
    this.label.textContent = dateTime(t);
    this.live.hidden = false;
    document.body.dataset.past = 'true';
    document.getElementById('past-flag').textContent = T.pastView(clock(t));
    this.onPast(snap, t);
  }

  backToLive() {
    this.seq++;
    this.at = null;
    this.slider.value = '0';
    this.showLabel();
    delete document.body.dataset.past;
    document.getElementById('past-flag').textContent = '';
    this.onLive();
  }
}
