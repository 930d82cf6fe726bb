// Page configuration from the URL fragment (and query): the operator token,
// an optional raster base-map, and where the API lives. The fragment is
// never sent to the server, so the token does not land in access logs.

const TOKEN_KEY = 'ponte.token';

/**
 * Reads #token=...&tiles=...&tilesAttribution=... (query parameters work
 * too, except the token). A token in the fragment is saved to localStorage
 * and removed from the address bar.
 */
export function readConfig(loc = window.location, storage = window.localStorage) {
  const hash = new URLSearchParams(loc.hash.replace(/^#/, ''));
  const query = new URLSearchParams(loc.search);
  let token = hash.get('token');
  if (token) {
    try { storage.setItem(TOKEN_KEY, token); } catch { /* private mode */ }
    hash.delete('token');
    const rest = hash.toString();
    history.replaceState(null, '', loc.pathname + loc.search + (rest ? '#' + rest : ''));
  } else {
    try { token = storage.getItem(TOKEN_KEY) || ''; } catch { token = ''; }
  }
  return {
    token,
    tiles: hash.get('tiles') || query.get('tiles') || '',
    tilesAttribution: hash.get('tilesAttribution') || query.get('tilesAttribution') || '',
    api: '/api/v1',
  };
}

/** Saves a token typed by the operator. */
export function saveToken(token, storage = window.localStorage) {
  try { storage.setItem(TOKEN_KEY, token); } catch { /* private mode */ }
}

const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escapes s for use where HTML is expected (MapLibre's attributions), so
 * that text from the URL shows literally and never becomes markup.
 */
export function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}
