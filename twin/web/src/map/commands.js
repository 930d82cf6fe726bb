// Commands on the operators' map (issue 16: safe write-back to devices).
//
// A site's popup gets a "Comandi" section when GET
// /api/v1/commands/points?entity= lists writable points (a 404 or 503
// means none, and the section stays away): per point a control fitting
// its rules — a number input and a slider with the unit, bounds and step
// for a range, one toggle button per allowed value for an enumeration —
// the current value, a "valore sicuro" shortcut, a mark on points that
// need a second operator's approval, and "Invia comando". The reason
// ("Motivo") and the operator's name are asked once for the section; the
// name is kept in localStorage (the same key the alarms' "Riconosci"
// uses: one name per operator on this browser).
//
// The client checks mirror the server's (range, step, allowed values,
// lengths) so an operator hears at once what is wrong; the server checks
// again against the device's profile, and its 400 message is shown as it
// comes (it names the profile's rule). After sending, the command is
// followed (GET /api/v1/commands/{id} every second) until a final state
// or until the popup closes, its state told in words through an
// aria-live region.
//
// The "Comandi" panel (a toolbar button; shown only when the server has
// commands) lists the open commands of the caller's scope, those awaiting
// approval with "Approva" and "Respingi" (which asks for a reason), and
// the latest ended ones with their result. Who the caller is comes from
// the contract's derivation of the operator ID ("op-" and the first 10
// hex digits of the SHA-256 of the token), computed here from the token
// the page holds, so "Approva" is disabled on one's own commands; where
// the browser cannot hash (no crypto.subtle outside a secure context)
// the button stays enabled and the server's 409 is shown.
//
// A text point (kind "text": a message sign's message) gets a text field
// with a live count against the display's limit, the characters it can
// show, and its preset messages as buttons (their Italian labels first);
// the page refuses locally what the server would (a character outside
// the set, a message too long, an empty one) with the server's rule in
// words (upper-casing first where the display has no lowercase), and the
// server, which checks again, stays the authority. The
// command carries "text" instead of "value"; once applied, the text read
// back from the display is shown.

import { dateTime, lang, num } from './i18n.js';
import { label, symbol } from './units.js';

const WORDS = {
  it: {
    commands: 'Comandi', send: 'Invia comando', reason: 'Motivo', operator: 'Operatore', safe: 'valore sicuro',
    approval: 'richiede approvazione', current: 'attuale', unknownCurrent: 'non noto', bounds: (a, b) => `da ${a} a ${b}`, step: 'passo',
    value: 'Valore', choose: 'Scegliere un valore', reasonNeeded: 'Indicare il motivo', operatorNeeded: 'Indicare il nome dell\'operatore',
    tooLong: (what, n) => `${what}: al massimo ${n} caratteri`, notNumber: 'Il valore deve essere un numero',
    below: (v, m) => `Il valore ${v} è sotto il minimo ${m}`, above: (v, m) => `Il valore ${v} supera il massimo ${m}`,
    notStep: (v, s, m) => `Il valore ${v} non è un multiplo del passo ${s} a partire da ${m}`, notAllowed: (v) => `Il valore ${v} non è tra quelli ammessi`,
    sending: 'Invio…', refusedByServer: 'Rifiutato dal server', tooMany: (s) => `Troppi comandi: riprovare tra ${s} s`,
    state: {
      awaiting_approval: 'in attesa di approvazione', queued: 'in coda per il gateway', received: 'ricevuto dal gateway',
      sent: 'inviato alla rete LoRaWAN', applied: 'applicato', refused: 'rifiutato', failed: 'fallito', expired: 'scaduto', rejected: 'respinto',
    },
    readback: (v) => `letto ${v}`,
    panel: 'Comandi', open: 'Aperti', ended: 'Conclusi di recente', none: 'Nessuno', approve: 'Approva', reject: 'Respingi',
    rejectReason: 'Motivo del rifiuto', confirmReject: 'Conferma rifiuto', cancel: 'Annulla', ownCommand: 'Comando tuo: serve un secondo operatore',
    by: 'da', approvedBy: 'approvato da', at: 'alle', showOnMap: 'Mostra sulla mappa', unavailable: 'Comandi non disponibili',
    approved: 'Comando approvato', rejectedMsg: 'Comando respinto', loadFailed: 'Caricamento non riuscito',
    points: { line_level: 'Livello della linea', line_on: 'Accensione della linea', switch_1: 'Uscita 1', switch_2: 'Uscita 2', message: 'Messaggio del pannello' },
    message: 'Messaggio', presets: 'Messaggi predefiniti', count: (n, max) => `${n}/${max} caratteri`, allowed: (a) => `Caratteri ammessi: ${a}`,
    space: 'spazio', emptyText: 'Scrivere il messaggio (uno spazio spegne il display)',
    badChar: (c, a) => `Il carattere «${c}» non può essere mostrato su questo display; ammessi: ${a}`,
    textTooLong: (n, max) => `Messaggio di ${n} caratteri: il display ne mostra al massimo ${max}`,
    readbackText: (t) => `letto «${t}»`,
  },
  en: {
    commands: 'Commands', send: 'Send command', reason: 'Reason', operator: 'Operator', safe: 'safe value',
    approval: 'needs approval', current: 'current', unknownCurrent: 'unknown', bounds: (a, b) => `from ${a} to ${b}`, step: 'step',
    value: 'Value', choose: 'Choose a value', reasonNeeded: 'Give the reason', operatorNeeded: 'Give the operator\'s name',
    tooLong: (what, n) => `${what}: at most ${n} characters`, notNumber: 'The value must be a number',
    below: (v, m) => `The value ${v} is below the minimum ${m}`, above: (v, m) => `The value ${v} is above the maximum ${m}`,
    notStep: (v, s, m) => `The value ${v} is not a multiple of the step ${s} from ${m}`, notAllowed: (v) => `The value ${v} is not one of the allowed values`,
    sending: 'Sending…', refusedByServer: 'Refused by the server', tooMany: (s) => `Too many commands: retry in ${s} s`,
    state: {
      awaiting_approval: 'awaiting approval', queued: 'queued for the gateway', received: 'received by the gateway',
      sent: 'sent to the LoRaWAN network', applied: 'applied', refused: 'refused', failed: 'failed', expired: 'expired', rejected: 'rejected',
    },
    readback: (v) => `read back ${v}`,
    panel: 'Commands', open: 'Open', ended: 'Recently ended', none: 'None', approve: 'Approve', reject: 'Reject',
    rejectReason: 'Reason for rejecting', confirmReject: 'Confirm rejection', cancel: 'Cancel', ownCommand: 'Your command: a second operator must approve',
    by: 'by', approvedBy: 'approved by', at: 'at', showOnMap: 'Show on the map', unavailable: 'Commands unavailable',
    approved: 'Command approved', rejectedMsg: 'Command rejected', loadFailed: 'Loading failed',
    points: { line_level: 'Line level', line_on: 'Line on/off', switch_1: 'Output 1', switch_2: 'Output 2', message: 'Sign message' },
    message: 'Message', presets: 'Preset messages', count: (n, max) => `${n}/${max} characters`, allowed: (a) => `Allowed characters: ${a}`,
    space: 'space', emptyText: 'Write the message (a space blanks the display)',
    badChar: (c, a) => `The character "${c}" cannot be shown on this display; allowed: ${a}`,
    textTooLong: (n, max) => `Message of ${n} characters: the display shows at most ${max}`,
    readbackText: (t) => `read back "${t}"`,
  },
};
/** The commands' words in the page's language. */
export const CW = WORDS[lang];

const OPERATOR_KEY = 'ponte.operator';
/** The states that end a command. */
export const FINAL = new Set(['applied', 'refused', 'failed', 'expired', 'rejected']);
/**
 * Ended states that may still change: ingest marks a command expired
 * (no report) or failed (no final report) on its own, and the gateway's
 * later final report wins; such a command is still followed, slowly.
 */
const MAY_CHANGE = new Set(['failed', 'expired']);
const POLL_MS = 1000;
const SLOW_POLL_MS = 10000;
const PANEL_POLL_MS = 3000;
const ENDED_SHOWN = 10;
// The server's limits on the request's names (contract: 1-80, 1-500).
const MAX_OPERATOR = 80;
const MAX_REASON = 500;
// The marks that go with a state, so colour is never the only signal.
const MARK = { awaiting_approval: '○', queued: '…', received: '…', sent: '…', applied: '✓', refused: '✗', failed: '✗', expired: '✗', rejected: '✗' };

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** A value with its unit's symbol: "40 %", "1". */
export function withUnit(v, unit) {
  const s = symbol(unit, '');
  return s ? `${num(v)} ${s}` : num(v);
}

/** A point's label for operators. */
export function pointLabel(name) {
  return CW.points[name] || label(name);
}

/** The enumeration's label of v, if the point has one. */
function choiceLabel(p, v) {
  const c = (p.enum || []).find((x) => x.value === v);
  return c && c.label ? c.label : '';
}

/** A value as operators read it: the enumeration's label, else the number with its unit. */
export function valueWords(p, v) {
  if (v === null || v === undefined) return CW.unknownCurrent;
  const l = choiceLabel(p || {}, v);
  return l ? `${l} (${num(v)})` : withUnit(v, p ? p.unit : '');
}

/** The words of a command's state: "applicato (letto 40 %)", "rifiutato: <detail>". */
export function stateText(c) {
  const w = CW.state[c.state] || c.state;
  switch (c.state) {
    case 'applied':
      if (typeof c.readback_text === 'string') return `${w} (${CW.readbackText(c.readback_text)})`;
      if (c.text !== undefined && c.detail) return `${w}: ${c.detail}`; // a display that cannot be read back says so
      return c.readback === null || c.readback === undefined ? w : `${w} (${CW.readback(withUnit(c.readback, c.unit))})`;
    case 'refused':
    case 'failed':
    case 'expired':
    case 'rejected':
      return c.detail ? `${w}: ${c.detail}` : w;
    default:
      return w;
  }
}

/** The mark (a symbol) that goes with a state. */
export function stateMark(state) { return MARK[state] || ''; }

/**
 * Checks v against a point's rules as the server does (range, step,
 * allowed values); '' when it may be sent, else why not, in words.
 */
export function checkValue(p, v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return CW.notNumber;
  if (p.enum && p.enum.length) return p.enum.some((c) => c.value === v) ? '' : CW.notAllowed(num(v));
  if (p.min !== undefined && p.min !== null && v < p.min) return CW.below(num(v), withUnit(p.min, p.unit));
  if (p.max !== undefined && p.max !== null && v > p.max) return CW.above(num(v), withUnit(p.max, p.unit));
  if (p.step > 0 && p.min !== undefined && p.min !== null) {
    const k = (v - p.min) / p.step;
    if (Math.abs(k - Math.round(k)) > 1e-9) return CW.notStep(num(v), num(p.step), num(p.min));
  }
  return '';
}

/** The characters of a set as operators read them: runs shortened ("0-9"), the space named. */
export function describeChars(set) {
  const rs = [...set];
  const alnum = (c) => /^[0-9A-Za-z]$/.test(c);
  const parts = [];
  for (let i = 0; i < rs.length; i++) {
    let j = i;
    while (j + 1 < rs.length && alnum(rs[i]) && alnum(rs[j + 1]) && rs[j + 1].codePointAt(0) === rs[j].codePointAt(0) + 1) j++;
    if (j - i >= 2) { parts.push(`${rs[i]}-${rs[j]}`); i = j; } else parts.push(rs[i] === ' ' ? CW.space : rs[i]);
  }
  return parts.join(' ');
}

/**
 * Checks a message against a text point's rules as the server does
 * (characters the display shows, its length); '' when it may be sent.
 */
export function checkText(p, text) {
  const chars = [...text];
  if (!chars.length) return CW.emptyText;
  const set = p.charset || '';
  for (const c of chars) if (!set.includes(c)) return CW.badChar(c, describeChars(set));
  if (p.max_length && chars.length > p.max_length) return CW.textTooLong(chars.length, p.max_length);
  return '';
}

/** Checks the reason and the operator's name; '' when both will do. */
export function checkWho(reason, operator) {
  if (!operator) return CW.operatorNeeded;
  if (operator.length > MAX_OPERATOR) return CW.tooLong(CW.operator, MAX_OPERATOR);
  if (!reason) return CW.reasonNeeded;
  if (reason.length > MAX_REASON) return CW.tooLong(CW.reason, MAX_REASON);
  return '';
}

/**
 * The caller's operator ID as the server derives it from the token
 * ("op-" and the first 10 hex digits of its SHA-256); '' where the
 * browser cannot hash (crypto.subtle needs a secure context).
 */
export async function operatorID(token) {
  try {
    if (!token || !globalThis.crypto || !crypto.subtle) return '';
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
    return 'op-' + [...d.slice(0, 5)].map((b) => b.toString(16).padStart(2, '0')).join('');
  } catch {
    return '';
  }
}

function savedOperator() {
  try { return localStorage.getItem(OPERATOR_KEY) || ''; } catch { return ''; }
}
function saveOperator(name) {
  try { localStorage.setItem(OPERATOR_KEY, name); } catch { /* private mode */ }
}

/** The message of a failed API call as the server gave it (its "error"), without the method and path. */
function serverMessage(err) {
  if (err.status === 429 && err.retryAfter) return CW.tooMany(err.retryAfter);
  return err.serverError || err.message;
}

let uid = 0;
const nextID = (p) => `cmd-${p}-${++uid}`;

/** Commands builds the popups' sections and keeps the panel. */
export class Commands {
  /**
   * @param {object} o
   * @param {(path: string, onResponse?: Function, method?: string, body?: any) => Promise<any>} o.api calls the API with the token;
   *   a failure carries status, serverError (the answer's "error") and retryAfter
   * @param {import('./store.js').Store} o.store the page's entities (for sites' names)
   * @param {(id: string) => void} o.pick flies to a feature and opens its popup
   * @param {string} o.token the operator token (to tell one's own commands)
   */
  constructor({ api, store, pick, token }) {
    this.api = api;
    this.store = store;
    this.pick = pick;
    this.me = '';
    this.tokenID = operatorID(token).then((id) => { this.me = id; return id; });
    this.available = false;
    this.panelTimer = 0;
    this.button = null;
    this.panel = null;
    /** @type {Map<string, Promise<object[]|null>>} writable points by entity, for the panel's labels */
    this.pointsCache = new Map();
  }

  /** The writable points of an entity (cached; null when it has none or they cannot be read). */
  pointsOf(entity) {
    if (!this.pointsCache.has(entity)) {
      this.pointsCache.set(entity, this.api(`/commands/points?entity=${encodeURIComponent(entity)}`)
        .then((r) => (r && r.points) || null).catch(() => null));
    }
    return this.pointsCache.get(entity);
  }

  /** Asks whether the server has commands; shows the toolbar button if so. */
  async start() {
    try {
      await this.api('/commands?state=open&limit=1');
      this.available = true;
    } catch (err) {
      this.available = false;
      if (err.status !== 404 && err.status !== 503) console.warn('commands', err.message);
      return;
    }
    await this.tokenID;
    this.buildPanel();
  }

  // --- the popup's section ---------------------------------------------

  /**
   * The popup's "Comandi" section of a site: empty at first, filled when
   * its writable points arrive, removed when it has none.
   */
  section(entity) {
    const box = el('section', undefined, 'commands');
    box.dataset.entity = entity;
    box.hidden = true;
    this.api(`/commands/points?entity=${encodeURIComponent(entity)}`).then((pts) => {
      if (!pts || !pts.points || !pts.points.length) { box.remove(); return; }
      this.pointsCache.set(entity, Promise.resolve(pts.points));
      this.fillSection(box, entity, pts.points);
      box.hidden = false;
    }).catch((err) => {
      if (err.status !== 404 && err.status !== 503) console.warn('command points', err.message);
      box.remove();
    });
    return box;
  }

  fillSection(box, entity, points) {
    const h = el('h3', CW.commands);
    h.id = nextID('h');
    box.setAttribute('aria-labelledby', h.id);
    box.appendChild(h);
    const who = el('div', undefined, 'cmd-who');
    const opInput = field(who, CW.operator, 'input', { autocomplete: 'name', maxLength: MAX_OPERATOR, required: true, name: 'operator' });
    opInput.value = savedOperator();
    opInput.addEventListener('change', () => { if (opInput.value.trim()) saveOperator(opInput.value.trim()); });
    const reason = field(who, CW.reason, 'input', { maxLength: MAX_REASON, required: true, name: 'reason' });
    box.appendChild(who);
    for (const p of points) box.appendChild(this.pointForm(entity, p, opInput, reason));
  }

  /** One point's form: its control, its safe value, "Invia comando" and the command's state. */
  pointForm(entity, p, opInput, reasonInput) {
    const form = el('form', undefined, 'cmd-point');
    form.dataset.point = p.name;
    form.noValidate = true; // the page's own checks speak, in the page's language
    const fs = el('fieldset');
    const legend = el('legend', pointLabel(p.name));
    // The profile's description is the vendor's words (often English): a tooltip, not the label.
    if (p.description) legend.title = p.description;
    fs.appendChild(legend);
    if (p.approval) fs.appendChild(el('p', CW.approval, 'cmd-approval'));
    const isText = p.kind === 'text';
    const current = el('p', `${CW.current}: ${valueWords(p, p.current)}`, 'cmd-current');
    if (!isText) fs.appendChild(current);

    const enumerated = p.enum && p.enum.length;
    let read; // () => the chosen value (NaN when none)
    let set; // (v) => shows v as chosen
    if (isText) {
      ({ read, set } = textControl(fs, p));
    } else if (enumerated) {
      const group = el('div', undefined, 'cmd-choices');
      group.setAttribute('role', 'group');
      group.setAttribute('aria-label', CW.value);
      let chosen = NaN;
      const buttons = p.enum.map((c) => {
        const b = el('button', c.label || num(c.value), 'cmd-choice');
        b.type = 'button';
        b.dataset.value = String(c.value);
        b.setAttribute('aria-pressed', 'false');
        if (c.value === p.current) b.appendChild(el('span', ` (${CW.current})`, 'cmd-is-current'));
        b.addEventListener('click', () => set(c.value));
        group.appendChild(b);
        return b;
      });
      read = () => chosen;
      set = (v) => {
        chosen = v;
        for (const b of buttons) b.setAttribute('aria-pressed', String(Number(b.dataset.value) === v));
      };
      fs.appendChild(group);
    } else {
      const row = el('div', undefined, 'cmd-range');
      const id = nextID('v');
      const lab = el('label', `${CW.value}${symbol(p.unit, '') ? ' (' + symbol(p.unit, '') + ')' : ''}`);
      lab.htmlFor = id;
      const input = el('input');
      input.type = 'number';
      input.id = id;
      input.name = 'value';
      const slider = el('input');
      slider.type = 'range';
      slider.setAttribute('aria-label', `${pointLabel(p.name)}, ${CW.value}`);
      for (const e of [input, slider]) {
        if (p.min !== undefined && p.min !== null) e.min = String(p.min);
        if (p.max !== undefined && p.max !== null) e.max = String(p.max);
        e.step = p.step > 0 ? String(p.step) : 'any';
      }
      const start = p.current ?? p.safe ?? p.min ?? 0;
      input.value = String(start);
      slider.value = String(start);
      input.addEventListener('input', () => { if (input.value !== '') slider.value = input.value; });
      slider.addEventListener('input', () => { input.value = slider.value; });
      read = () => (input.value.trim() === '' ? NaN : Number(input.value));
      set = (v) => { input.value = String(v); slider.value = String(v); };
      row.append(lab, input, slider);
      fs.appendChild(row);
      const bounds = [];
      if (p.min !== undefined && p.min !== null && p.max !== undefined && p.max !== null) bounds.push(CW.bounds(num(p.min), withUnit(p.max, p.unit)));
      if (p.step > 0) bounds.push(`${CW.step} ${num(p.step)}`);
      if (bounds.length) fs.appendChild(el('p', bounds.join(', '), 'cmd-bounds'));
    }

    const actions = el('div', undefined, 'cmd-actions');
    if (p.safe !== undefined && p.safe !== null) {
      const safe = el('button', `${CW.safe}: ${valueWords(p, p.safe)}`, 'cmd-safe');
      safe.type = 'button';
      safe.addEventListener('click', () => set(p.safe));
      actions.appendChild(safe);
    }
    const send = el('button', CW.send, 'cmd-send');
    send.type = 'submit';
    actions.appendChild(send);
    fs.appendChild(actions);
    const status = el('p', '', 'cmd-status');
    status.setAttribute('role', 'status');
    status.setAttribute('aria-live', 'polite');
    fs.appendChild(status);
    form.appendChild(fs);

    const say = (text, state) => {
      status.textContent = text;
      status.dataset.state = state || '';
    };
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const v = isText && p.uppercase ? read().toUpperCase() : read();
      const operator = opInput.value.trim();
      const reason = reasonInput.value.trim();
      const valueBad = isText ? checkText(p, v) : Number.isNaN(v) && enumerated ? CW.choose : checkValue(p, v);
      const whoBad = valueBad ? '' : checkWho(reason, operator);
      if (valueBad || whoBad) {
        say(valueBad || whoBad, 'invalid');
        if (valueBad) form.querySelector('input[name=value], input[name=text], .cmd-choice').focus();
        else (!operator || operator.length > MAX_OPERATOR ? opInput : reasonInput).focus();
        return;
      }
      saveOperator(operator);
      send.disabled = true;
      say(CW.sending, 'sending');
      try {
        const what = isText ? { text: v } : { value: v };
        const c = await this.api('/commands', null, 'POST', { entity, point: p.name, ...what, reason, operator });
        this.follow(form, c, say, (v) => { current.textContent = `${CW.current}: ${valueWords(p, v)}`; });
      } catch (err) {
        say(serverMessage(err), 'error');
      } finally {
        send.disabled = false;
      }
    });
    return form;
  }

  /**
   * Follows a command until it ends or its popup closes, saying each
   * state; onReadback(v) gets the value read back once it is applied.
   */
  follow(form, c, say, onReadback) {
    const show = (cmd) => {
      say(`${stateMark(cmd.state)} ${stateText(cmd)}`.trim(), cmd.state);
      if (cmd.state === 'applied' && cmd.readback !== null && cmd.readback !== undefined) onReadback(cmd.readback);
      form.dataset.command = cmd.id;
      form.dataset.state = cmd.state;
    };
    show(c);
    const tick = async () => {
      if (!form.isConnected || form.dataset.command !== c.id) return; // the popup closed, or a newer command
      try {
        const now = await this.api(`/commands/${encodeURIComponent(c.id)}`);
        if (!form.isConnected || form.dataset.command !== c.id) return;
        const was = form.dataset.state;
        show(now);
        if (FINAL.has(now.state)) {
          if (was !== now.state) this.refreshPanel();
          if (!MAY_CHANGE.has(now.state)) return;
          setTimeout(tick, SLOW_POLL_MS);
          return;
        }
      } catch (err) {
        console.warn('command', err.message);
      }
      setTimeout(tick, POLL_MS);
    };
    if (!FINAL.has(c.state)) setTimeout(tick, POLL_MS);
    else if (MAY_CHANGE.has(c.state)) setTimeout(tick, SLOW_POLL_MS);
    this.refreshPanel();
  }

  // --- the panel -------------------------------------------------------

  buildPanel() {
    const bar = document.querySelector('header.bar');
    const side = document.querySelector('aside.side');
    if (!bar || !side || this.panel) return;
    const panel = el('section', undefined, 'commands-panel');
    panel.id = 'commands-panel';
    panel.hidden = true;
    const h = el('h2', CW.panel);
    h.id = 'commands-title';
    panel.setAttribute('aria-labelledby', h.id);
    const who = el('div', undefined, 'cmd-who');
    const op = field(who, CW.operator, 'input', { autocomplete: 'name', maxLength: MAX_OPERATOR, name: 'operator' });
    op.value = savedOperator();
    op.addEventListener('change', () => { if (op.value.trim()) saveOperator(op.value.trim()); });
    this.panelOperator = op;
    const msg = el('p', '', 'cmd-panel-msg');
    msg.setAttribute('role', 'status');
    msg.setAttribute('aria-live', 'polite');
    this.panelMsg = msg;
    this.openList = el('ul', undefined, 'cmd-list open');
    this.endedList = el('ul', undefined, 'cmd-list ended');
    panel.append(h, who, msg, el('h3', CW.open), this.openList, el('h3', CW.ended), this.endedList);
    side.insertBefore(panel, side.firstChild);
    this.panel = panel;

    const b = el('button', CW.panel, 'commands-toggle');
    b.type = 'button';
    b.id = 'commands-toggle';
    b.setAttribute('aria-controls', panel.id);
    b.setAttribute('aria-expanded', 'false');
    b.addEventListener('click', () => this.togglePanel());
    bar.insertBefore(b, document.getElementById('status'));
    this.button = b;
  }

  /** Opens or closes the panel (open: refreshed every few seconds). */
  togglePanel(open = this.panel.hidden) {
    this.panel.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    clearTimeout(this.panelTimer);
    if (open) {
      if (!this.panelOperator.value.trim()) this.panelOperator.value = savedOperator();
      this.refreshPanel();
      this.panel.querySelector('h2').tabIndex = -1;
      this.panel.querySelector('h2').focus();
    }
  }

  /** Reloads the panel's lists now (and again in a few seconds) when it is open. */
  async refreshPanel() {
    if (!this.panel || this.panel.hidden) return;
    clearTimeout(this.panelTimer);
    try {
      const [open, all] = await Promise.all([this.api('/commands?state=open'), this.api('/commands?state=all&limit=50')]);
      const ended = (all.commands || []).filter((c) => FINAL.has(c.state)).slice(0, ENDED_SHOWN);
      // The two answers may straddle a command's end: an ended state is
      // final, so a command one says ended is not listed as open too.
      const over = new Set((all.commands || []).filter((c) => FINAL.has(c.state)).map((c) => c.id));
      const openList = (open.commands || []).filter((c) => !over.has(c.id));
      // The points' rules give the values' labels ("spenta") and units.
      const entities = [...new Set([...openList, ...ended].map((c) => String(c.entity)))];
      const pts = new Map(await Promise.all(entities.map(async (e) => [e, await this.pointsOf(e)])));
      this.renderList(this.openList, openList, true, pts);
      this.renderList(this.endedList, ended, false, pts);
    } catch (err) {
      this.panelMsg.textContent = `${CW.loadFailed}: ${serverMessage(err)}`;
    }
    if (!this.panel.hidden) this.panelTimer = setTimeout(() => this.refreshPanel(), PANEL_POLL_MS);
  }

  /**
   * Redraws a list, keeping the items whose command did not change (so
   * a reject form being filled in, and the focus, stay where they are).
   */
  renderList(ul, list, open, pts) {
    if (!list.length) {
      if (!ul.querySelector('.cmd-none')) ul.replaceChildren(el('li', CW.none, 'cmd-none'));
      return;
    }
    const old = new Map([...ul.children].filter((li) => li.dataset.command).map((li) => [li.dataset.command, li]));
    const nodes = list.map((c) => {
      const p = (pts.get(String(c.entity)) || []).find((x) => x.name === c.point);
      const key = `${c.state}|${c.approval ? c.approval.at : ''}|${p ? 1 : 0}`;
      const li = old.get(c.id);
      if (li && li.dataset.key === key) return li;
      const n = this.item(c, open, p);
      n.dataset.key = key;
      return n;
    });
    if (nodes.length !== ul.children.length || nodes.some((n, i) => ul.children[i] !== n)) ul.replaceChildren(...nodes);
  }

  /** One command of the panel; p is its point's rules, if known. */
  item(c, open, p) {
    const li = el('li', undefined, 'cmd-item state-' + c.state);
    li.dataset.command = c.id;
    li.dataset.state = c.state;
    const site = this.store.features.get(String(c.entity));
    const where = site ? site.properties.name : c.entity;
    const go = el('button', undefined, 'linklike');
    go.type = 'button';
    go.title = CW.showOnMap;
    const what = typeof c.text === 'string' ? `«${c.text}»` : valueWords(p || { unit: c.unit }, c.value);
    go.append(el('span', `${pointLabel(c.point)} → ${what}`, 'name'), el('span', where, 'sub'));
    go.addEventListener('click', () => this.pick(String(c.entity)));
    li.appendChild(go);
    li.appendChild(el('div', `${stateMark(c.state)} ${stateText(c)}`.trim(), 'cmd-state'));
    const rejected = c.state === 'rejected' ? (c.steps || []).find((s) => s.status === 'rejected') : null;
    const lines = [`${CW.by} ${c.operator ? c.operator.name : '?'} ${CW.at} ${dateTime(c.created)}`, `${CW.reason}: ${c.reason}`];
    if (c.approval && c.approval.operator) lines.push(`${CW.approvedBy} ${c.approval.operator.name} ${CW.at} ${dateTime(c.approval.at)}`);
    if (rejected) lines.push(`${CW.state.rejected} ${CW.by} ${rejected.operator ? rejected.operator.name : '?'}${rejected.detail ? ': ' + rejected.detail : ''}`);
    for (const l of lines) li.appendChild(el('div', l, 'cmd-meta'));
    if (open && c.state === 'awaiting_approval') li.appendChild(this.decision(c));
    return li;
  }

  /** "Approva" and "Respingi" of a command awaiting approval. */
  decision(c) {
    const box = el('div', undefined, 'cmd-decision');
    const mine = this.me && c.operator && c.operator.id === this.me;
    const approve = el('button', CW.approve, 'cmd-approve');
    approve.type = 'button';
    if (mine) {
      approve.disabled = true;
      const why = el('span', CW.ownCommand, 'cmd-own');
      why.id = nextID('own');
      approve.setAttribute('aria-describedby', why.id);
      box.append(approve, why);
    } else {
      box.appendChild(approve);
    }
    const reject = el('button', CW.reject, 'cmd-reject');
    reject.type = 'button';
    box.appendChild(reject);
    const name = () => {
      const n = this.panelOperator.value.trim();
      if (!n) { this.panelMsg.textContent = CW.operatorNeeded; this.panelOperator.focus(); return ''; }
      saveOperator(n);
      return n;
    };
    approve.addEventListener('click', async () => {
      const operator = name();
      if (!operator) return;
      approve.disabled = true;
      try {
        await this.api(`/commands/${encodeURIComponent(c.id)}/approve`, null, 'POST', { operator });
        this.panelMsg.textContent = CW.approved;
      } catch (err) {
        this.panelMsg.textContent = serverMessage(err);
        approve.disabled = false;
      }
      this.refreshPanel();
    });
    reject.addEventListener('click', () => {
      if (box.querySelector('.cmd-rejectform')) return;
      const form = el('form', undefined, 'cmd-rejectform');
      form.noValidate = true;
      const why = field(form, CW.rejectReason, 'input', { maxLength: MAX_REASON, required: true, name: 'reason' });
      const ok = el('button', CW.confirmReject, 'cmd-confirm-reject');
      ok.type = 'submit';
      const cancel = el('button', CW.cancel);
      cancel.type = 'button';
      cancel.addEventListener('click', () => { form.remove(); reject.focus(); });
      form.append(ok, cancel);
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const operator = name();
        if (!operator) return;
        const reason = why.value.trim();
        if (!reason) { this.panelMsg.textContent = CW.reasonNeeded; why.focus(); return; }
        ok.disabled = true;
        try {
          await this.api(`/commands/${encodeURIComponent(c.id)}/reject`, null, 'POST', { operator, reason });
          this.panelMsg.textContent = CW.rejectedMsg;
          form.remove();
        } catch (err) {
          this.panelMsg.textContent = serverMessage(err);
          ok.disabled = false;
        }
        this.refreshPanel();
      });
      box.appendChild(form);
      why.focus();
    });
    return box;
  }
}

/**
 * A text point's control, appended to fs: the message field with its live
 * count against the display's limit (said in words as it changes, for
 * screen readers too), the characters the display shows, and the preset
 * messages as buttons labelled in Italian. Returns read and set.
 */
function textControl(fs, p) {
  const row = el('div', undefined, 'cmd-text');
  const input = field(row, CW.message, 'input', { type: 'text', name: 'text', autocomplete: 'off', spellcheck: false });
  const count = el('span', '', 'cmd-count');
  count.id = nextID('count');
  count.setAttribute('aria-live', 'polite');
  const allowed = el('p', CW.allowed(describeChars(p.charset || '')), 'cmd-bounds cmd-charset');
  allowed.id = nextID('chars');
  input.setAttribute('aria-describedby', `${count.id} ${allowed.id}`);
  const recount = () => {
    const n = [...input.value].length;
    count.textContent = CW.count(n, p.max_length);
    count.dataset.over = String(n > p.max_length);
  };
  input.addEventListener('input', recount);
  recount();
  row.appendChild(count);
  fs.appendChild(row);
  fs.appendChild(allowed);
  const set = (t) => { input.value = t; recount(); };
  if (p.messages && p.messages.length) {
    const group = el('div', undefined, 'cmd-choices cmd-presets');
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', CW.presets);
    for (const m of p.messages) {
      const b = el('button', `${m.label} («${m.text}»)`, 'cmd-choice cmd-preset');
      b.type = 'button';
      b.dataset.text = m.text;
      b.addEventListener('click', () => { set(m.text); input.focus(); });
      group.appendChild(b);
    }
    fs.appendChild(group);
  }
  return { read: () => input.value, set };
}

/** Appends a labelled input to parent and returns the input. */
function field(parent, text, tag, attrs) {
  const id = nextID('f');
  const lab = el('label', text);
  lab.htmlFor = id;
  const input = el(tag);
  input.id = id;
  Object.assign(input, attrs);
  parent.append(lab, input);
  return input;
}
