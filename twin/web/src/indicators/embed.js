// The frame reports its height to the page that embeds it, so that page
// can size the <iframe> to the content: {type: "ponte:height", height} by
// postMessage on load and whenever the content's size changes. The
// message carries nothing but a height, so it goes to any origin.

let last = -1;

function post() {
  const height = Math.ceil(document.documentElement.scrollHeight);
  if (height === last) return;
  last = height;
  window.parent.postMessage({ type: 'ponte:height', height }, '*');
}

/** Starts reporting when the page is in a frame. */
export function reportHeight() {
  if (window.parent === window) return;
  post();
  window.addEventListener('load', post);
  window.addEventListener('resize', post);
  new ResizeObserver(post).observe(document.body);
}
