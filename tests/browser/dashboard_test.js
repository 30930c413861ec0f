// Browser test of the dashboard (dashboard/web/), driven by Playwright in headless chromium.
//   node dashboard_test.js ENSWEEP WORKDIR SCREENSHOTS
// 1. The UI alone, in report (embedded) mode over a synthetic study (fixture.js), offline: what it
//    draws matches the data, sorting, filtering and paging work, a trial page's confusion matrix.
// 2. `ensweep serve` over a real sweep of the built-in curve objective: the leaderboard holds the
//    store's trials (as `ensweep top --all -f json` lists them), each chart drew its points, a trial
//    page shows its epochs; then a slow second study runs and every trial it finishes appears on
//    the page within 2 s.
// 3. `ensweep report` of that sweep, opened from file:// with every http(s) request blocked.
// Screenshots of every view go to SCREENSHOTS. Exits 0 when every check holds, 1 otherwise.
'use strict';
const assert = require('assert');
const {spawn, execFileSync} = require('child_process');
const fs = require('fs');
const path = require('path');
const {chromium} = require('playwright-core');
const fixture = require('./fixture');

const [ENSWEEP, WORK, SHOTS] = process.argv.slice(2).map((p) => path.resolve(p));
const ROOT = path.resolve(__dirname, '..', '..');
const CHROMIUM = process.env.ENSWEEP_CHROMIUM || '/usr/bin/chromium';
const CHART_JS = process.env.ENSWEEP_CHART_JS || '/usr/share/javascript/chart.js/chart.min.js';
const LIVE_DEADLINE_MS = 2000;

function ok(what) { console.log('ok - ' + what); }

// ---------------------------------------------------------------- page helpers

async function newPage(context, errors) {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(r.status() + ' ' + r.url()); });
  return page;
}

// Navigates to a hash route and waits until the view finished rendering.
async function show(page, url) {
  const before = await page.evaluate(() => Number(document.body.dataset.rendered || 0))
    .catch(() => 0);
  await page.goto(url);
  await page.waitForFunction((n) => Number(document.body.dataset.rendered || 0) > n &&
    !document.getElementById('view-error'), before, {timeout: 15000}).catch(async () => {
    const text = await page.evaluate(() => document.getElementById('app').innerText);
    throw new Error('view ' + url + ' did not render: ' + text.slice(0, 500));
  });
}

// A screenshot of the whole page. Playwright's fullPage resizes the page while it captures, which
// makes Chart.js clear and redraw its canvases: the page is made tall first, and given time to
// redraw.
async function shot(page, name) {
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({width: 1280, height: Math.max(800, Math.min(height, 6000))});
  await page.evaluate(() => new Promise((r) => setTimeout(() => requestAnimationFrame(() =>
    requestAnimationFrame(r)), 200)));
  await page.screenshot({path: path.join(SHOTS, name + '.png')});
  await page.setViewportSize({width: 1280, height: 800});
}

// How many points each dataset of chart `name` drew, by label.
function chartCounts(page, name) {
  return page.evaluate((n) => {
    const chart = window.ensweepCharts[n];
    if (!chart) return null;
    const out = {};
    chart.data.datasets.forEach((d, i) => {
      // trials: how many trials a dataset stands for (a number, or the list of their numbers).
      const trials = Array.isArray(d.trials) ? d.trials.length : d.trials;
      out[d.label] = {points: d.data.length, drawn: chart.getDatasetMeta(i).data.length, trials};
    });
    return out;
  }, name);
}

// The lines of the parallel-coordinates chart: the trials of its datasets.
function lines(counts) {
  return Object.values(counts).reduce((sum, d) => sum + d.trials, 0);
}

function rowNumbers(page) {
  return page.$$eval('#leaderboard tr.trial-row', (rows) => rows.map((r) => ({
    number: Number(r.dataset.trialNumber), state: r.dataset.state})));
}

async function clickAndRender(page, selector) {
  const before = await page.evaluate(() => Number(document.body.dataset.rendered));
  await page.click(selector);
  await page.waitForFunction((n) => Number(document.body.dataset.rendered) > n, before);
}

// ---------------------------------------------------------------- 1. the UI over a fixture

async function fixtureChecks(browser) {
  const data = fixture.apiData(fixture.makeStudy('demo study', 130, 7));
  const file = path.join(WORK, 'fixture.html');
  fs.writeFileSync(file, fixture.reportHtml(path.join(ROOT, 'dashboard/web'), CHART_JS, data));
  const context = await browser.newContext({viewport: {width: 1280, height: 800}});
  await context.setOffline(true);
  const errors = [];
  const page = await newPage(context, errors);
  const base = 'file://' + file;
  const s = encodeURIComponent('demo study');
  const api = '/api/studies/' + s;
  const trials = data[api + '/trials?limit=all'].trials;

  await show(page, base + '#/');
  assert.strictEqual(await page.$$eval('tr.study-row', (r) => r.length), 1);
  await shot(page, 'fixture-studies');

  await show(page, base + '#/study/' + s);
  let rows = await rowNumbers(page);
  assert.strictEqual(rows.length, 50, 'a page of 50 rows');
  assert.deepStrictEqual(rows.map((r) => r.number), trials.slice(0, 50).map((t) => t.number));
  assert.strictEqual(await page.textContent('#page-info'), '1–50 of 130');
  const history = await chartCounts(page, 'history');
  const withValue = data[api + '/history'].trials.filter((t) => t[2] !== null).length;
  const failed = data[api + '/history'].trials.filter((t) => t[1] === 'FAILED').length;
  assert.strictEqual(history.complete.drawn + history.pruned.drawn, withValue);
  assert.strictEqual(history.complete.trials + history.pruned.trials, withValue);
  assert.strictEqual(history.failed.drawn, failed);
  const complete = trials.filter((t) => t.state === 'COMPLETE').length;
  assert.strictEqual(lines(await chartCounts(page, 'parallel')), complete);
  const importance = await chartCounts(page, 'importance');
  assert.strictEqual(importance.importance.drawn, 3);
  // The per-epoch metric `lr` beside the searched parameter `lr` is told apart.
  const headers = await page.$$eval('#leaderboard th', (ths) => ths.map((th) => th.textContent));
  assert.strictEqual(headers.filter((t) => t.startsWith('lr')).length, 2, headers.join('|'));
  assert(headers.some((t) => t.startsWith('lr (metric)')), headers.join('|'));
  ok('fixture: leaderboard page, history, parallel coordinates and importance drew the data');
  await shot(page, 'fixture-study');

  await clickAndRender(page, '#page-next');
  rows = await rowNumbers(page);
  assert.deepStrictEqual(rows.map((r) => r.number), trials.slice(50, 100).map((t) => t.number));
  await clickAndRender(page, 'th[data-sort="number"]');
  rows = await rowNumbers(page);
  assert.deepStrictEqual(rows.map((r) => r.number), Array.from({length: 50}, (_, i) => i));
  await clickAndRender(page, 'th[data-sort="number"]');
  rows = await rowNumbers(page);
  assert.strictEqual(rows[0].number, 129, 'a second click sorts descending');
  await clickAndRender(page, 'input[data-state="FAILED"]');
  rows = await rowNumbers(page);
  assert.strictEqual(rows.length, failed);
  assert(rows.every((r) => r.state === 'FAILED'));
  await clickAndRender(page, 'input[data-state="FAILED"]');
  await page.selectOption('#filter-param', 'model');
  await page.waitForSelector('select#filter-value');
  await page.selectOption('select#filter-value', 'resnet18');
  const resnet = trials.filter((t) => t.params.model === 'resnet18').length;
  await page.waitForFunction((n) => document.querySelector('#page-info').textContent.endsWith(
    'of ' + n), resnet);
  ok('fixture: paging, sorting by a header (both ways), state and parameter filters');

  await show(page, base + '#/study/' + s + '/curves');
  const curves = await chartCounts(page, 'curves');
  assert.strictEqual(Object.keys(curves).length, 10, 'the 10 best trials by default');
  await shot(page, 'fixture-curves');
  const best = trials[0];
  await show(page, base + '#/study/' + s + '/trial/' + best.number);
  assert.strictEqual(await page.$$eval('#epochs tr.epoch-row', (r) => r.length), best.epochs_done);
  const matrix = data[api + '/trials/' + best.number].confusion.matrix;
  const cells = await page.$$eval('#confusion td', (c) => c.map((x) => Number(x.dataset.count)));
  assert.deepStrictEqual(cells, matrix.flat());
  assert.strictEqual(Object.keys(await chartCounts(page, 'epochs')).length, 3);
  ok('fixture: trial page with its epochs, curves and confusion matrix');
  await shot(page, 'fixture-trial');
  const failedTrial = trials.find((t) => t.state === 'FAILED');
  await show(page, base + '#/study/' + s + '/trial/' + failedTrial.number);
  assert((await page.textContent('#trial-error')).includes('out of memory'));
  const absent = trials.slice(20).find((t) => t.state !== 'FAILED');
  await show(page, base + '#/study/' + s + '/trial/' + absent.number);
  await page.waitForSelector('#not-in-report');
  await show(page, base + '#/study/' + s + '/ensembles');
  assert.strictEqual(await page.$$eval('.members tbody tr', (r) => r.length), 3);
  await shot(page, 'fixture-ensembles');
  ok('fixture: failed trial error, a trial not in the report, ensembles');
  assert.deepStrictEqual(errors, []);
  await context.close();
}

// ---------------------------------------------------------------- 2. ensweep serve

function writeStudy(dir, name, trials, epochs, epochTime, seed) {
  const file = path.join(dir, name + '.yaml');
  fs.writeFileSync(file, [
    'study: ' + name,
    'storage: ' + path.join(dir, 'store.sqlite'),
    'artifacts: ' + path.join(dir, 'artifacts'),
    'trainer: {type: curve, epoch_time: ' + epochTime + ', noise: 0.01}',
    'objective: {metric: val_accuracy, direction: maximize}',
    'budget: {trials: ' + trials + ', epochs: ' + epochs + '}',
    'sampler: {type: random, seed: ' + seed + '}',
    'pruner: {type: asha, min_epochs: 2, reduction: 2}',
    'space:',
    '  lr: {log_uniform: [1.0e-4, 1.0e-1]}',
    '  depth: {int: [1, 8]}',
    '  model: {choice: [cnn, resnet, vit]}',
    ''].join('\n'));
  return file;
}

function ensweep(args) {
  return execFileSync(ENSWEEP, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
}

// Starts `ensweep serve` on a free port; resolves to {process, url}.
function startServer(study) {
  return new Promise((resolve, reject) => {
    const server = spawn(ENSWEEP, ['serve', study, '--listen', '127.0.0.1:0'],
                         {stdio: ['ignore', 'pipe', 'inherit']});
    let out = '';
    const timer = setTimeout(() => reject(new Error('serve printed no address: ' + out)), 15000);
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/(http:\/\/127\.0\.0\.1:\d+)\/?/);
      if (m) { clearTimeout(timer); resolve({process: server, url: m[1]}); }
    });
    server.on('exit', (code) => reject(new Error('serve exited with ' + code + ': ' + out)));
  });
}

async function getJson(url) {
  const response = await fetch(url);
  assert(response.ok, url + ': ' + response.status);
  return response.json();
}

async function serverChecks(browser, dir) {
  const study = writeStudy(dir, 'sweep', 14, 6, '0.01s', 3);
  ensweep(['run', study, '--workers', '2']);
  const top = JSON.parse(ensweep(['top', study, '--all', '-k', '0', '-f', 'json']));
  const server = await startServer(study);
  try {
    const context = await browser.newContext({viewport: {width: 1280, height: 800}});
    const errors = [];
    const page = await newPage(context, errors);
    await show(page, server.url + '/#/');
    await page.waitForSelector('tr.study-row[data-study="sweep"]');
    await shot(page, 'serve-studies');
    await show(page, server.url + '/#/study/sweep');
    const rows = await rowNumbers(page);
    assert.deepStrictEqual(rows.map((r) => r.number).sort((a, b) => a - b),
                           top.map((t) => t.trial).sort((a, b) => a - b),
                           'the leaderboard lists every trial of the store');
    const ranked = top.filter((t) => t.rank !== null).map((t) => t.trial);
    assert.deepStrictEqual(rows.filter((r) => r.state === 'COMPLETE').map((r) => r.number), ranked,
                           'complete trials in the order of `ensweep top`');
    const api = server.url + '/api/studies/sweep';
    const history = await getJson(api + '/history');
    const drawn = await chartCounts(page, 'history');
    assert.strictEqual(drawn.complete.drawn + drawn.pruned.drawn,
                       history.trials.filter((t) => t[2] !== null).length);
    // The server computes the importance in the background: the page shows "computing" and asks
    // again until it comes.
    await page.waitForFunction(() => document.body.dataset.importance === 'ready',
                               null, {timeout: 60000});
    const importance = await getJson(api + '/importance');
    assert.strictEqual(importance.pending, undefined);
    assert.strictEqual(importance.importances.length, 3, 'importance of each parameter');
    assert.strictEqual((await chartCounts(page, 'importance')).importance.drawn, 3);
    const complete = top.filter((t) => t.state === 'COMPLETE').length;
    assert.strictEqual(lines(await chartCounts(page, 'parallel')), complete);
    ok('serve: leaderboard rows are the store\'s trials; history, importance, parallel drew');
    await shot(page, 'serve-study');

    await show(page, server.url + '/#/study/sweep/curves');
    const curves = await chartCounts(page, 'curves');
    const bestTen = ranked.slice(0, 10);
    assert.deepStrictEqual(Object.keys(curves).map((k) => Number(k.slice(1).split(' ')[0])).sort(
      (a, b) => a - b), bestTen.slice().sort((a, b) => a - b));
    for (const k of Object.keys(curves)) assert.strictEqual(curves[k].drawn, 6, k + ': 6 epochs');
    await shot(page, 'serve-curves');
    const detail = await getJson(api + '/trials/' + ranked[0]);
    await show(page, server.url + '/#/study/sweep/trial/' + ranked[0]);
    assert.strictEqual(await page.$$eval('#epochs tr.epoch-row', (r) => r.length),
                       detail.epochs.length);
    assert.strictEqual(detail.epochs.length, 6);
    assert.strictEqual(await page.$$eval('#confusion', (t) => t.length), detail.confusion ? 1 : 0);
    await shot(page, 'serve-trial');
    await show(page, server.url + '/#/study/sweep/ensembles');
    await shot(page, 'serve-ensembles');
    ok('serve: curves of the 10 best complete trials, a trial page with its 6 epochs');

    await liveChecks(page, server.url, dir);
    assert.deepStrictEqual(errors, []);
    await context.close();
  } finally {
    server.process.kill('SIGTERM');
  }
  return study;
}

// A slow study runs while the page shows it: each trial the API reports finished must be a row of
// the leaderboard within 2 s.
async function liveChecks(page, url, dir) {
  const study = writeStudy(dir, 'live', 3, 3, '0.4s', 5);
  const run = spawn(ENSWEEP, ['run', study, '--workers', '1'], {stdio: 'ignore'});
  const exited = new Promise((resolve) => run.on('exit', resolve));
  let finished = false;
  exited.then(() => { finished = true; });
  const api = url + '/api/studies/live';
  for (let i = 0; i < 100; ++i) {
    const answer = await getJson(url + '/api/studies');
    if (answer.studies.some((s) => s.name === 'live')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await show(page, url + '/#/study/live');
  const seen = new Set();
  while (!finished || seen.size < 3) {
    const page1 = await getJson(api + '/trials?state=COMPLETE,PRUNED&limit=all');
    for (const t of page1.trials) {
      if (seen.has(t.number)) continue;
      seen.add(t.number);
      await page.waitForSelector('tr.trial-row[data-trial-number="' + t.number + '"][data-state="' +
        t.state + '"]', {timeout: LIVE_DEADLINE_MS}).catch(() => {
        throw new Error('trial ' + t.number + ' finished but was not shown within 2 s');
      });
    }
    if (finished && seen.size >= 3) break;
    if (finished) {
      const last = await getJson(api + '/trials?state=COMPLETE,PRUNED&limit=all');
      if (last.trials.length === seen.size) break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.strictEqual(await exited, 0, 'the live run succeeded');
  assert.strictEqual(seen.size, 3);
  await shot(page, 'serve-live');
  ok('serve: each of the live study\'s 3 trials appeared within 2 s of finishing');
}

// ---------------------------------------------------------------- 3. ensweep report

async function reportChecks(browser, study, dir) {
  const file = path.join(dir, 'report.html');
  ensweep(['report', study, '-o', file, '-q']);
  const context = await browser.newContext({viewport: {width: 1280, height: 800}});
  await context.setOffline(true);
  const requests = [];
  await context.route(/^https?:/, (route) => { requests.push(route.request().url()); route.abort(); });
  const errors = [];
  const page = await newPage(context, errors);
  await show(page, 'file://' + file + '#/study/sweep');
  const top = JSON.parse(ensweep(['top', study, '--all', '-k', '0', '-f', 'json']));
  const rows = await rowNumbers(page);
  assert.strictEqual(rows.length, Math.min(50, top.length));
  const history = await chartCounts(page, 'history');
  assert.strictEqual(history.complete.drawn + history.pruned.drawn,
                     top.filter((t) => t.value !== null).length);
  assert.strictEqual((await chartCounts(page, 'importance')).importance.drawn, 3);
  assert.strictEqual(lines(await chartCounts(page, 'parallel')),
                     top.filter((t) => t.state === 'COMPLETE').length);
  await shot(page, 'report-study');
  await show(page, 'file://' + file + '#/study/sweep/curves');
  assert.strictEqual(Object.keys(await chartCounts(page, 'curves')).length,
                     Math.min(10, top.filter((t) => t.state === 'COMPLETE').length));
  await show(page, 'file://' + file + '#/study/sweep/trial/' + top[0].trial);
  assert.strictEqual(await page.$$eval('#epochs tr.epoch-row', (r) => r.length), 6);
  await shot(page, 'report-trial');
  assert.deepStrictEqual(requests, [], 'the report fetched nothing');
  assert.deepStrictEqual(errors, []);
  ok('report: offline from file://, leaderboard, history, importance, parallel, curves, trial');
  await context.close();
}

async function main() {
  fs.mkdirSync(SHOTS, {recursive: true});
  fs.rmSync(WORK, {recursive: true, force: true});
  fs.mkdirSync(WORK, {recursive: true});
  const browser = await chromium.launch({executablePath: CHROMIUM,
                                         args: ['--no-sandbox', '--disable-dev-shm-usage']});
  try {
    await fixtureChecks(browser);
    const study = await serverChecks(browser, WORK);
    await reportChecks(browser, study, WORK);
  } finally {
    await browser.close();
  }
  console.log('screenshots in ' + SHOTS);
}

main().catch((e) => {
  console.error('FAILED: ' + (e.stack || e));
  process.exit(1);
});
