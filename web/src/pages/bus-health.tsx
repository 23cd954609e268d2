import { tr } from '../i18n';
/**
 * The event bus as the monitor sees it (GET /api/v1/monitor/status → bus): the connection and stream, the
 * monitor's consumer — attached or reattaching, how far behind, its last event and last error — and the
 * outbox of security events waiting to be relayed, and events from other deployments put in quarantine. Shown above the alerts: a silent monitor must not look
 * like a quiet day.
 */
import { api } from '../api';
import { Bi, ProblemBox, useLoad } from '../components';
import { dateTime } from '../format';

interface Consumer {
  pattern: string;
  durable: string | null;
  state: 'attaching' | 'consuming' | 'reattaching' | 'stopped';
  attaches: number;
  delivered: number;
  pending: number | null;
  ackPending: number | null;
  lastEventAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
}

interface BusStatus {
  subscribed: boolean;
  duplicatesDropped: number;
  foreign?: Record<string, number>;
  outbox?: {
    durable: boolean;
    instance: string;
    pending: number | null;
    relayed: number;
    failures: number;
    lastError: string | null;
    lastRelayAt: string | null;
  };
  bus: {
    kind: 'nats' | 'in-process';
    connected: boolean;
    stream?: string;
    subjectPrefix?: string;
    streamPresent?: boolean;
    consumers?: Consumer[];
  };
}

const STATE_VI: Record<Consumer['state'], string> = {
  attaching: 'đang gắn',
  consuming: 'đang nhận',
  reattaching: 'đang gắn lại',
  stopped: 'đã dừng',
};

function Badge({ good, vi, en }: { good: boolean; vi: string; en: string }) {
  return <span className={`badge ${good ? 'status-good' : 'status-revoked'}`}>{tr(vi, en)}</span>;
}

export function BusHealth() {
  const { data, error } = useLoad(() => api<{ bus: BusStatus }>('/api/v1/monitor/status'), []);
  if (error) return <ProblemBox error={error} />;
  if (!data?.bus) return null;
  const { bus, outbox, duplicatesDropped, foreign = {} } = data.bus;
  const nats = bus.kind === 'nats';
  return (
    <div className="card" data-testid="bus-health">
      <div className="card-head">
        <strong>
          <Bi vi="Bus sự kiện" en="Event bus" />
        </strong>{' '}
        {nats ? (
          <Badge
            good={bus.connected}
            vi={bus.connected ? 'đã kết nối' : 'mất kết nối'}
            en={bus.connected ? 'connected' : 'disconnected'}
          />
        ) : (
          <span className="badge status-good">
            <Bi vi="trong tiến trình" en="in-process" />
          </span>
        )}
        {outbox ? <span className="muted small-text"> · {outbox.instance}</span> : null}
      </div>
      <dl className="facts">
        {nats ? (
          <div>
            <dt>
              <Bi vi="Luồng" en="stream" />
            </dt>
            <dd className="mono">
              {bus.stream} ({bus.subjectPrefix}.&gt;){' '}
              {bus.streamPresent ? null : <Badge good={false} vi="không thấy" en="missing" />}
            </dd>
          </div>
        ) : null}
        {(bus.consumers ?? []).map((c) => (
          <div key={`${c.durable ?? ''}:${c.pattern}`} data-testid="bus-consumer">
            <dt>
              <Bi vi="Bộ nhận" en="consumer" /> <span className="mono">{c.durable ?? c.pattern}</span>
            </dt>
            <dd>
              <Badge good={c.state === 'consuming'} vi={STATE_VI[c.state]} en={c.state} />{' '}
              <Bi vi="còn chờ" en="lag" />: {c.pending ?? '—'} · <Bi vi="sự kiện cuối" en="last event" />:{' '}
              {dateTime(c.lastEventAt)}
              {c.attaches > 1 ? (
                <>
                  {' '}
                  · <Bi vi="gắn lại" en="reattached" /> {c.attaches - 1}×
                </>
              ) : null}
              {c.lastError ? (
                <div className="muted small-text">
                  {dateTime(c.lastErrorAt)}: {c.lastError}
                </div>
              ) : null}
            </dd>
          </div>
        ))}
        {outbox?.durable ? (
          <div>
            <dt>
              <Bi vi="Hộp thư đi" en="outbox" />
            </dt>
            <dd>
              <Bi vi="chờ chuyển" en="waiting" />: {outbox.pending ?? '—'} ·{' '}
              <Bi vi="lần chuyển cuối" en="last relay" />: {dateTime(outbox.lastRelayAt)}
              {outbox.lastError ? (
                <div className="muted small-text">
                  {outbox.failures} <Bi vi="lần lỗi" en="failures" />: {outbox.lastError}
                </div>
              ) : null}
            </dd>
          </div>
        ) : null}
        {Object.keys(foreign).length ? (
          <div data-testid="bus-foreign">
            <dt>
              <Bi vi="Từ triển khai khác (cách ly)" en="from other deployments, quarantined" />
            </dt>
            <dd>
              {Object.entries(foreign).map(([instance, n]) => (
                <span key={instance} className="badge status-revoked">
                  {instance}: {n}
                </span>
              ))}
            </dd>
          </div>
        ) : null}
        <div>
          <dt>
            <Bi vi="Bản lặp đã bỏ" en="repeats dropped" />
          </dt>
          <dd>{duplicatesDropped}</dd>
        </div>
      </dl>
    </div>
  );
}
