/** sessionStorage, not localStorage: the token dies with the tab and is never written to disk. */
const STORAGE_KEY = 'fgl.agentSessionToken';

type TokenPlace = {
  location: Pick<Location, 'hash' | 'pathname' | 'search'>;
  storage: Pick<Storage, 'getItem' | 'setItem'>;
  history: Pick<History, 'replaceState'>;
};

/**
 * The agent's session token: taken from the URL fragment `#token=…` on first load (a fragment is
 * never sent to a server or put in a Referer), kept for this tab only, and removed from the address
 * bar so it is not bookmarked, shared in a screenshot, or left in history.
 */
export function takeAgentToken(place: TokenPlace): string | null {
  const hash = place.location.hash.startsWith('#')
    ? place.location.hash.slice(1)
    : place.location.hash;
  const fromUrl = new URLSearchParams(hash).get('token');
  if (fromUrl) {
    place.storage.setItem(STORAGE_KEY, fromUrl);
    place.history.replaceState(null, '', place.location.pathname + place.location.search);
    return fromUrl;
  }
  return place.storage.getItem(STORAGE_KEY);
}
