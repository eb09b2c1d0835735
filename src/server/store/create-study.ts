import type { Clock } from '../../shared/clock';
import { StudyManifest } from '../../shared/study';
import { CreateStudyBody } from '../../shared/server-api';
import { randomIdPart } from '../auth/secret-token';
import type { ServerStore } from './server-store';

/** `Chest X-ray 2025` → `chest-x-ray-2025-3f9a1c`: readable, unique, fits the study id pattern. */
export function newStudyId(name: string): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return `${slug || 'study'}-${randomIdPart(3)}`;
}

/** Validate a study definition, assign its id and creation time, and store it. */
export async function createStudy(
  store: ServerStore,
  input: CreateStudyBody,
  clock: Clock,
): Promise<StudyManifest> {
  const body = CreateStudyBody.parse(input);
  const manifest = StudyManifest.parse({
    ...body,
    id: newStudyId(body.name),
    createdAt: clock().toISOString(),
  });
  await store.studies.insert(manifest);
  return manifest;
}
