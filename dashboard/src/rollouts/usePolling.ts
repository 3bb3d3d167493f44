// Reads a query again every `ms` milliseconds while `active`: a rollout
// that may change on its own (a step falls due, its guard pauses it) shows
// it without a reload.
import { useEffect } from 'react';
import type { OperationContext } from 'urql';

export function usePolling(active: boolean, refetch: (context?: Partial<OperationContext>) => void, ms: number): void {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => { refetch({ requestPolicy: 'network-only' }); }, ms);
    return () => { clearInterval(timer); };
  }, [active, refetch, ms]);
}
