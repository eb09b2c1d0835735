import { useEffect } from 'react';
import type { SiteStudy } from '../../shared/site-api';
import { useApp } from '../app-state';
import { useCall } from '../components/use-call';

/** The studies this site is enrolled in, loaded once per screen; selects the first if none is chosen. */
export function useStudies() {
  const { client, studyId, setStudyId } = useApp();
  const studies = useCall<SiteStudy[]>();
  const { run } = studies;
  useEffect(() => {
    void run(async () => (await client.call('studies.list', {})).studies);
  }, [client, run]);
  useEffect(() => {
    const first = studies.data?.[0];
    if (first && !studies.data?.some((s) => s.id === studyId)) setStudyId(first.id);
  }, [studies.data, studyId, setStudyId]);
  return { ...studies, study: studies.data?.find((s) => s.id === studyId) ?? null };
}
