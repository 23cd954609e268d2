import { tr } from '../i18n';
import { Bi } from '../components';
/**
 * Event search: a time range and dotted field filters (event.action, user.name, source.ip, host.name,
 * rule=<id> for the events a rule matched, …), newest first, a page at a time.
 */
import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { Empty, Loading, PageTitle, ProblemBox } from '../components';
import { fromLocalInput, toLocalInput } from '../format';
import { EventTable } from './alert-detail';
import type { StoredEvent } from '../types';

const PAGE = 100;
const SUGGESTED = [
  'event.action',
  'event.outcome',
  'event.category',
  'user.name',
  'source.ip',
  'host.name',
  'event.dataset',
  'truc.intake',
  'rule',
];

export function Events() {
  const [from, setFrom] = useState(() => toLocalInput(new Date(Date.now() - 86_400_000)));
  const [to, setTo] = useState('');
  const [filters, setFilters] = useState<{ field: string; value: string }[]>([
    { field: 'event.action', value: '' },
  ]);
  const [events, setEvents] = useState<StoredEvent[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState<string | null>(null);

  async function search(after?: StoredEvent) {
    setBusy(true);
    setError(null);
    try {
      const where: Record<string, string> = {};
      for (const f of filters) if (f.field.trim() && f.value.trim()) where[f.field.trim()] = f.value.trim();
      const r = await api<{ events: StoredEvent[] }>('/api/v1/events', {
        query: {
          from: fromLocalInput(from),
          to: fromLocalInput(to),
          limit: PAGE,
          ...(after ? { after_ts: after.ts, after_id: after.id } : {}),
          ...where,
        },
      });
      setEvents((prev) => (after && prev ? [...prev, ...r.events] : r.events));
      setMore(r.events.length === PAGE);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void search();
  };

  return (
    <section>
      <PageTitle vi="Sự kiện" en="Events" />
      <form className="filters column" onSubmit={submit}>
        <div className="row">
          <label className="field">
            <span>
              <Bi vi="Từ" en="from" />
            </span>
            <input name="from" type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label className="field">
            <span>
              <Bi vi="Đến" en="to" />
            </span>
            <input name="to" type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
        </div>
        {filters.map((f, i) => (
          <div className="row" key={i}>
            <label className="field">
              <span>
                <Bi vi="Trường" en="field" />
              </span>
              <input
                name={`field-${i}`}
                list="event-fields"
                value={f.field}
                onChange={(e) =>
                  setFilters(filters.map((x, j) => (j === i ? { ...x, field: e.target.value } : x)))
                }
              />
            </label>
            <label className="field grow">
              <span>
                <Bi vi="Giá trị" en="value" />
              </span>
              <input
                name={`value-${i}`}
                value={f.value}
                onChange={(e) =>
                  setFilters(filters.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)))
                }
              />
            </label>
            <button
              type="button"
              className="secondary small"
              onClick={() => setFilters(filters.filter((_, j) => j !== i))}
              aria-label={tr('Bỏ điều kiện', 'remove')}
            >
              −
            </button>
          </div>
        ))}
        <datalist id="event-fields">
          {SUGGESTED.map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <div className="row">
          <button
            type="button"
            className="secondary"
            onClick={() => setFilters([...filters, { field: '', value: '' }])}
          >
            <Bi vi="+ Điều kiện" en="add filter" />
          </button>
          <button type="submit" disabled={busy}>
            <Bi vi="Tìm kiếm" en="Search" />
          </button>
        </div>
      </form>
      <ProblemBox error={error} />
      {busy && !events ? <Loading /> : null}
      {events && !events.length ? <Empty /> : null}
      {events && events.length ? (
        <>
          <EventTable events={events} open={open} setOpen={setOpen} />
          {more ? (
            <button
              type="button"
              className="secondary"
              disabled={busy}
              onClick={() => search(events[events.length - 1])}
            >
              <Bi vi="Tải thêm" en="More" />
            </button>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
