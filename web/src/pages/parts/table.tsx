// A compact semantic table with PatternFly's table classes (@patternfly/react-table is not
// a dependency): a caption-less <table> named by aria-label, headers as <th scope="col">.
import type { ReactNode } from 'react';
import '@patternfly/react-styles/css/components/Table/table.css';
import { useI18n } from '../../i18n';

interface TableProps {
  /** The table's accessible name. */
  label: string;
  /** Column headers, already translated; an empty string for an actions column. */
  columns: readonly string[];
  children: ReactNode;
  /** The column that takes the spare width (the others fit their content); 0 by default. */
  grow?: number;
}

export function Table({ label, columns, children, grow = 0 }: TableProps) {
  const { t } = useI18n();
  return (
    <div style={{ overflowX: 'auto' }}>
      <table className="pf-v6-c-table pf-m-compact" aria-label={label}>
        <thead className="pf-v6-c-table__thead">
          <tr className="pf-v6-c-table__tr">
            {columns.map((column, index) => (
              <th
                key={index}
                className={`pf-v6-c-table__th${index !== grow ? ' pf-m-fit-content' : ''}`}
                scope="col"
              >
                {column === '' ? (
                  <span className="pf-v6-screen-reader">{t('Actions')}</span>
                ) : (
                  column
                )}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="pf-v6-c-table__tbody">{children}</tbody>
      </table>
    </div>
  );
}

export function Row({ children }: { children: ReactNode }) {
  return <tr className="pf-v6-c-table__tr">{children}</tr>;
}

/**
 * A data cell; `header` makes it the row's header (e.g. the name column). Cells keep to one
 * line unless `wrap` (free text such as notes and descriptions).
 */
export function Cell({
  children,
  header = false,
  actions = false,
  wrap = false,
}: {
  children?: ReactNode;
  header?: boolean;
  actions?: boolean;
  wrap?: boolean;
}) {
  const className = `pf-v6-c-table__td${actions ? ' pf-v6-c-table__action' : ''}${wrap ? ' pf-m-wrap' : ' pf-m-nowrap'}`;
  return header ? (
    <th className={className} scope="row">
      {children}
    </th>
  ) : (
    <td className={className}>{children}</td>
  );
}
