import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkAlerts, DASHBOARD_FILE, findPromtool, metricsUsed, missingMetrics, parseScrape, RULES_FILE, RULES_TEST_FILE, scrapeTrippedEngine, unscrapedInputs } from '../../scripts/checkAlerts.ts';

const rules = readFileSync(RULES_FILE, 'utf8');
const dashboard = readFileSync(DASHBOARD_FILE, 'utf8');
const promtool = findPromtool();

describe('shipped alert rules and dashboard', () => {
  it('behavior: every corral_* metric the rules and the dashboard use has samples in a real scrape of an engine on anvil that tripped the alerts (promtool check and test rules too, where it is installed)', { timeout: 240_000 }, async () => {
    const text = await scrapeTrippedEngine();
    const scrape = parseScrape(text);
    // The conditions really were tripped: the values the rules fire on are in the scrape.
    expect(text).toContain('corral_module_not_ready{module="near",reason="halted"} 1');
    expect(text).toContain('corral_reorgs_beyond_window_total{module="near",chain="31337"} 1');
    expect(text).toContain('corral_breaker_state{module="spinner"} 2');
    expect(text).toContain('corral_dead_letters{module="tasks"} 1');
    expect(text).toContain('corral_chain_not_ready{chain="31337",reason="chain-stalled"} 1');
    const used = metricsUsed(rules, dashboard);
    for (const name of ['corral_breaker_state', 'corral_module_not_ready', 'corral_bus_lag_blocks', 'corral_reorgs_beyond_window_total', 'corral_rpc_failures_total', 'corral_dead_letters', 'corral_store_quota_bytes']) {
      expect(used).toContain(name);
    }
    expect(missingMetrics(used, scrape)).toEqual([]);
    expect(unscrapedInputs(readFileSync(RULES_TEST_FILE, 'utf8'), scrape)).toEqual([]);

    const { problems, promtoolOutput } = await checkAlerts(text);
    expect(problems).toEqual([]);
    if (promtool) expect(promtoolOutput.join('\n')).toMatch(/SUCCESS: 7 rules found[\s\S]*SUCCESS/);
  });

  it('error: a rule or panel using a metric the engine does not serve, or a unit-test input unlike any scraped series, is reported', () => {
    const scrape = parseScrape(
      [
        '# TYPE corral_invocation_duration_seconds histogram',
        'corral_invocation_duration_seconds_bucket{le="0.1",module="a",outcome="ok"} 1',
        '# TYPE corral_breaker_state gauge',
        'corral_breaker_state{module="a"} 0',
        '# TYPE corral_dead_letters gauge',
      ].join('\n'),
    );
    const rulesWith = (expr: string) => `groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: ${expr}\n`;
    const panelWith = (expr: string) => JSON.stringify({ panels: [{ targets: [{ expr }] }] });
    const used = metricsUsed(rulesWith('corral_breaker_state > 0 and corral_made_up_total > 1'), panelWith('histogram_quantile(0.9, rate(corral_invocation_duration_seconds_bucket[5m])) + corral_dead_letters'));
    // A family with a # TYPE line but no sample does not count: an alert on it could never fire.
    expect(missingMetrics(used, scrape)).toEqual(['corral_dead_letters', 'corral_made_up_total']);
    expect(missingMetrics(['corral_invocation_duration_seconds'], scrape)).toEqual([]);

    const tests = (series: string) => `tests:\n  - input_series:\n      - series: '${series}'\n        values: '0'\n`;
    expect(unscrapedInputs(tests('corral_breaker_state{instance="x:1",job="corral",module="b"}'), scrape)).toEqual([]);
    expect(unscrapedInputs(tests('corral_breaker_state{instance="x:1",module="b",chain="1"}'), scrape)).toEqual(['corral_breaker_state{instance="x:1",module="b",chain="1"}']);
  });
});
