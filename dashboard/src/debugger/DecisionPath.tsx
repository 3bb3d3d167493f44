// The targeting rule drawn as an outline, each node marked with what the
// evaluation did there: not evaluated, held or not, the value it came to,
// and the branch or bucket taken, highlighted.
import { useMemo } from 'react';

import { type MarkedNode, type Trace, inlineText, markTree, outcomeText, ruleTree } from './decisionPath';

export interface DecisionPathProps {
  /** The flag's `targeting` rule. */
  rule: unknown;
  /** The flag set's segments, by key, which the rule may refer to. */
  segments: ReadonlyMap<string, unknown>;
  /** The evaluation's trace, or `null` before any evaluation. */
  trace: Trace | null;
}

export function DecisionPath({ rule, segments, trace }: DecisionPathProps) {
  const marked = useMemo(() => markTree(ruleTree(rule, segments), trace), [rule, segments, trace]);
  return (
    <ol className="rule-tree" aria-label={trace ? 'Targeting rule with the decision path' : 'Targeting rule'}>
      <RuleItem marked={marked} />
    </ol>
  );
}

function RuleItem({ marked }: { marked: MarkedNode }) {
  const { node } = marked;
  const inline = inlineText(node);
  const classes = ['rule-node'];
  if (marked.reached === true) classes.push('reached');
  if (marked.reached === false) classes.push('skipped');
  if (marked.taken) classes.push('taken');
  return (
    <li className={classes.join(' ')}>
      <div className="rule-line">
        {marked.role && <span className="rule-role">{marked.role}</span>}
        {node.segment !== undefined && <span className="badge">segment {node.segment}</span>}
        {inline !== null ? (
          <code>{inline}</code>
        ) : node.kind === 'op' ? (
          <code className="rule-op">{node.op}</code>
        ) : (
          <span className="rule-op">list</span>
        )}
        {node.unknownSegment !== undefined && <span className="rule-error">no segment of this name</span>}
        {marked.taken && <strong className="rule-taken">taken</strong>}
        {marked.reached === false && <span className="rule-skipped">not evaluated</span>}
        {marked.outcome && <span className="rule-outcome">→ {outcomeText(marked.outcome)}</span>}
        {marked.notes.map((note, i) => (
          <span key={i} className="rule-note">
            {note}
          </span>
        ))}
      </div>
      {inline === null && marked.children.length > 0 && (
        <ol>
          {marked.children.map((child) => (
            <RuleItem key={child.node.pointer} marked={child} />
          ))}
        </ol>
      )}
    </li>
  );
}
