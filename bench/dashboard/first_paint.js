// First paint of a study's dashboard page in headless chromium: from the start of navigation to
// the first render of the page (optimization history, leaderboard, parallel coordinates, and the
// parameter importance or, while the server computes it, "computing"), and to the importance drawn.
//   node bench/dashboard/first_paint.js URL STUDY [RUNS]
// URL: the address `ensweep serve` printed, or file:///path/report.html. Prints one line per run
// and the median. Needs tests/browser/node_modules (tests/browser/run.sh installs it).
'use strict';
const path = require('path');
const {chromium} = require(path.join(__dirname, '../../tests/browser/node_modules/playwright-core'));

async function once(browser, url) {
  const context = await browser.newContext({viewport: {width: 1280, height: 800}});
  const page = await context.newPage();
  await page.goto(url, {waitUntil: 'commit', timeout: 300000});
  // First paint: the study page's first render, the history drawn (the importance drawn too, or
  // "computing" while the server still computes it).
  await page.waitForFunction(() => window.ensweepTimings && window.ensweepTimings.view === 'study' &&
    window.ensweepCharts.history, null, {timeout: 300000, polling: 10});
  // ENSWEEP_BENCH_SHOT=file.png: a screenshot of the page as first drawn.
  if (process.env.ENSWEEP_BENCH_SHOT) await page.screenshot({path: process.env.ENSWEEP_BENCH_SHOT});
  const result = await page.evaluate(() => {
    const h = window.ensweepCharts.history.data.datasets;
    return Object.assign({trials: h.reduce((n, d) => n + (d.trials || 0), 0),
                          importance: document.body.dataset.importance},
                         window.ensweepTimings);
  });
  // Then the importance drawn (the same render when it was ready).
  await page.waitForFunction(() => document.body.dataset.importance === 'ready' &&
    window.ensweepCharts.importance, null, {timeout: 300000, polling: 10});
  result.importance_ms = await page.evaluate(() => window.ensweepTimings.at_ms);
  await context.close();
  return result;
}

async function main() {
  const [base, study, runs] = process.argv.slice(2);
  const url = base.replace(/\/$/, '') + (base.startsWith('file:') ? '' : '/') + '#/study/' +
    encodeURIComponent(study);
  const browser = await chromium.launch({executablePath: process.env.ENSWEEP_CHROMIUM ||
    '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage']});
  const times = [];
  for (let i = 0; i < Number(runs || 5); ++i) {
    const r = await once(browser, url);
    times.push(r.at_ms);
    console.log('run ' + (i + 1) + ': first paint ' + r.at_ms.toFixed(0) + ' ms (data ' +
      r.data_ms.toFixed(0) + ' ms, drawing ' + r.draw_ms.toFixed(0) + ' ms; ' + r.trials +
      ' trials in the history; importance ' + r.importance + ', drawn at ' +
      r.importance_ms.toFixed(0) + ' ms)');
  }
  times.sort((a, b) => a - b);
  console.log('median first paint: ' + times[Math.floor(times.length / 2)].toFixed(0) + ' ms');
  await browser.close();
}

main().catch((e) => { console.error(e); process.exit(1); });
