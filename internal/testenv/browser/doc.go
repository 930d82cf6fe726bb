// Package browser drives headless Chromium for Ponte's page tests (the
// operators' map, the indicators page) and the whole-system test in e2e:
// a small Chrome DevTools Protocol client over --remote-debugging-pipe,
// tabs that navigate, evaluate JavaScript and take screenshots.
//
// Start is an integration test's start (testenv.Need): under -short it
// skips the test; without -short a missing Chromium fails it.
package browser
