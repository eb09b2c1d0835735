import { describe, expect, it } from 'vitest';
import * as serverApi from '../../src/shared/server-api';
import * as siteApi from '../../src/shared/site-api';

// The two contracts used to export different schemas under the same names (StudySummary,
// ModelVersion); a reader importing one by mistake got the wrong shape. Now no name is shared.
describe('site-api and server-api export no schema under the same name', () => {
  it('has no name in common', () => {
    const common = Object.keys(siteApi).filter((k) => k in serverApi);
    expect(common).toEqual([]);
  });

  it('keeps the shapes: the site lists studies with their privacy floor and models with their verification', () => {
    expect(Object.keys(siteApi.SiteStudy.shape)).toEqual(['id', 'name', 'classes', 'k', 'maxEpsilon', 'allowInstance']);
    expect(Object.keys(siteApi.SiteModel.shape)).toEqual(['studyId', 'version', 'downloaded', 'verified', 'verification']);
    expect(Object.keys(serverApi.StudySummary.shape)).toEqual(['id', 'name', 'classes', 'createdAt']);
    expect(Object.keys(serverApi.ModelVersion.shape)).toEqual(['studyId', 'version', 'roundId', 'manifestSha256', 'publishedAt']);
  });
});
