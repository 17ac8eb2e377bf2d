// Small presentational pieces shared by the sections: badges, progress bars, cards and labels.
import type { ComponentChildren } from "preact";

const TONES: Record<string, string> = {
  SUCCEEDED: "ok", PASSED: "ok", DONE: "ok", APPROVED: "ok", ACTIVE: "ok", OK: "ok",
  RUNNING: "info", IN_PROGRESS: "info", ANALYZING: "info", IN_REVIEW: "info", QUEUED: "muted",
  PENDING: "muted", DRAFT: "muted", PLANNING: "muted", AWAITING_APPROVAL: "warn", BLOCKED: "warn",
  CHANGES_REQUESTED: "warn", ON_HOLD: "warn", FAILED: "bad", ERROR: "bad", REJECTED: "bad", DENIED: "bad",
  CANCELLED: "muted", ROLLED_BACK: "warn", ARCHIVED: "muted", COMPLETED: "ok",
};

export const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

export const label = (value: string) => value.charAt(0) + value.slice(1).toLowerCase().replaceAll("_", " ");

export function Badge({ value }: { value: string }) {
  return <span class={`badge tone-${TONES[value] ?? "muted"}`}>{label(value)}</span>;
}

export function Progress({ value, tone, title }: { value: number; tone?: string; title: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <div class={`bar tone-${tone ?? "info"}`} role="progressbar" aria-label={title} aria-valuenow={pct}
      aria-valuemin={0} aria-valuemax={100}>
      <div class="fill" style={{ width: `${pct}%` }} />
    </div>
  );
}

export function Card(props: { title: string; id: string; aside?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="card" id={props.id} aria-labelledby={`${props.id}-title`}>
      <header>
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        {props.aside}
      </header>
      {props.children}
    </section>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export const ago = (iso: string) => {
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return new Date(iso).toLocaleDateString();
};
