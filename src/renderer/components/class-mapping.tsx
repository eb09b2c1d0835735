import { matchLabels, type ClassMap } from '../../shared/class-names';
import type { ScanSummary } from '../../shared/site-api';

const LEAVE_OUT = '';

/**
 * Each folder the scan found, with the study class it will be used as: the class-name rule's
 * guess (case, spaces, `_` and `-` ignored) unless the operator picks another or leaves it out.
 */
export function effectiveClassMap(scan: ScanSummary, classes: readonly string[], overrides: ClassMap): Record<string, string | null> {
  const auto = matchLabels(new Map(scan.classes.map((c) => [c.name, c.count])), classes);
  const map: Record<string, string | null> = {};
  for (const c of scan.classes) {
    const i = auto.index.get(c.name);
    map[c.name] = Object.prototype.hasOwnProperty.call(overrides, c.name) ? (overrides[c.name] ?? null) : i === undefined ? null : classes[i]!;
  }
  return map;
}

export function ClassMapping(props: {
  scan: ScanSummary;
  classes: readonly string[];
  map: Record<string, string | null>;
  onChange(folder: string, cls: string | null): void;
}) {
  const used = Object.values(props.map).filter((c) => c !== null).length;
  return (
    <fieldset className="class-mapping" data-testid="class-mapping">
      <legend>Folders → study classes</legend>
      <p className="help">
        Found {props.scan.classes.length} folder{props.scan.classes.length === 1 ? '' : 's'} in {props.scan.root}. Folders named
        like a class (ignoring case, spaces, “_” and “-”) are matched; pick a class for the others,
        or leave them out. Only the study’s class names leave this computer, never a folder’s.
      </p>
      <table className="data-table">
        <thead>
          <tr>
            <th scope="col">folder</th>
            <th scope="col" className="num">
              images
            </th>
            <th scope="col">used as</th>
          </tr>
        </thead>
        <tbody>
          {props.scan.classes.map((c) => (
            <tr key={c.name}>
              <th scope="row">{c.name}</th>
              <td className="num">{c.count}</td>
              <td>
                <select
                  aria-label={`Class for folder ${c.name}`}
                  value={props.map[c.name] ?? LEAVE_OUT}
                  onChange={(e) => props.onChange(c.name, e.target.value === LEAVE_OUT ? null : e.target.value)}
                >
                  <option value={LEAVE_OUT}>— leave out —</option>
                  {props.classes.map((k) => (
                    <option key={k} value={k}>
                      {k}
                    </option>
                  ))}
                </select>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {used === 0 && (
        <p className="help invalid" role="alert">
          No folder is used as a class of this study: pick a class for at least one folder.
        </p>
      )}
    </fieldset>
  );
}
