/**
 * Samples of one metric of one VM over time (uPlot): the value line (or the state as a level when
 * the source gives no values), the state of each interval as a coloured band, and where each
 * WARNING or CRITICAL stretch would have held long enough for the scheduler to act.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { SamplesQuery, ThresholdFieldsFragment } from '../../../sdk';

type Sample = SamplesQuery['samples'][number];

const BAND: Record<string, string> = { OK: 'rgba(46, 125, 50, 0.10)', WARNING: 'rgba(237, 108, 2, 0.22)', CRITICAL: 'rgba(198, 40, 40, 0.22)', UNKNOWN: 'rgba(97, 97, 97, 0.12)' };
const HOLD: Record<string, string> = { WARNING: '#a44a00', CRITICAL: '#b71c1c' };
const LEVEL: Record<string, number> = { UNKNOWN: -1, OK: 0, WARNING: 1, CRITICAL: 2 };

/** Each run of the same non-OK state and the time its hold is reached (if it lasted that long). */
export function holdMarks(samples: Sample[], threshold: ThresholdFieldsFragment | null): { state: string; from: number; to: number; heldAt: number | null }[] {
  const runs: { state: string; from: number; to: number; heldAt: number | null }[] = [];
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    const t = Date.parse(s.observedAt) / 1000;
    const last = runs[runs.length - 1];
    if (last && last.state === s.state) last.to = t;
    else runs.push({ state: s.state, from: t, to: t, heldAt: null });
  }
  const hold = (state: string) => (state === 'WARNING' ? threshold?.warningHoldSeconds : state === 'CRITICAL' ? threshold?.criticalHoldSeconds : undefined);
  return runs
    .filter((r) => r.state === 'WARNING' || r.state === 'CRITICAL')
    .map((r) => {
      const h = hold(r.state);
      return { ...r, heldAt: h !== undefined && r.from + h <= r.to ? r.from + h : null };
    });
}

export function SamplesChart({ samples, threshold, label }: { samples: Sample[]; threshold: ThresholdFieldsFragment | null; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || samples.length === 0) return;
    const withValues = samples.every((s) => s.value !== null);
    const xs = samples.map((s) => Date.parse(s.observedAt) / 1000);
    const ys = samples.map((s) => (withValues ? (s.value as number) : LEVEL[s.state]));
    const marks = holdMarks(samples, threshold);
    const bands = (u: uPlot) => {
      const { ctx, bbox } = u;
      ctx.save();
      for (let i = 0; i < samples.length; i++) {
        const x0 = u.valToPos(xs[i], 'x', true);
        const x1 = i + 1 < samples.length ? u.valToPos(xs[i + 1], 'x', true) : bbox.left + bbox.width;
        ctx.fillStyle = BAND[samples[i].state] ?? BAND.UNKNOWN;
        ctx.fillRect(x0, bbox.top, Math.max(1, x1 - x0), bbox.height);
      }
      ctx.restore();
    };
    const holds = (u: uPlot) => {
      const { ctx, bbox } = u;
      ctx.save();
      ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
      ctx.lineWidth = 2 * devicePixelRatio;
      ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
      for (const m of marks) {
        if (m.heldAt === null) continue;
        const x = u.valToPos(m.heldAt, 'x', true);
        ctx.strokeStyle = HOLD[m.state];
        ctx.fillStyle = HOLD[m.state];
        ctx.beginPath();
        ctx.moveTo(x, bbox.top);
        ctx.lineTo(x, bbox.top + bbox.height);
        ctx.stroke();
        ctx.fillText(`${m.state} held`, x + 4 * devicePixelRatio, bbox.top + 14 * devicePixelRatio);
      }
      ctx.restore();
    };
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth),
      height: 220,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: withValues ? {} : { range: [-1.2, 2.2] } },
      axes: [{ stroke: '#333' }, { stroke: '#333', ...(withValues ? {} : { values: (_u, vals) => vals.map((v) => ['UNKNOWN', 'OK', 'WARNING', 'CRITICAL'][Math.round(v) + 1] ?? '') , splits: () => [-1, 0, 1, 2] }) }],
      series: [{}, { label, stroke: '#0b57d0', width: 2, points: { show: samples.length < 60 } }],
      hooks: { drawClear: [bands], draw: [holds] },
    };
    const plot = new uPlot(opts, [xs, ys], el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [samples, threshold, label]);

  const marks = holdMarks(samples, threshold);
  const held = marks.filter((m) => m.heldAt !== null);
  const summary =
    samples.length === 0
      ? `No samples of ${label}.`
      : `${label}: ${samples.length} samples; ${marks.length} WARNING/CRITICAL stretches, ${held.length} held long enough to act; latest ${samples[samples.length - 1].state}.`;
  return (
    <figure class="chart">
      <div ref={box} role="img" aria-label={summary} />
      <figcaption class="small">
        {summary} Bands: <span class="key key-ok">OK</span> <span class="key key-warn">WARNING</span> <span class="key key-bad">CRITICAL</span>; dashed lines: hold time reached
        {threshold ? ` (WARNING ${threshold.warningHoldSeconds} s, CRITICAL ${threshold.criticalHoldSeconds} s)` : ''}.
      </figcaption>
    </figure>
  );
}
