/**
 * Renders the supervision tree (Supervisor.tree()) as indented text lines: each node's id, kind,
 * state, incarnation and restart count. Text only; the CLI prints it.
 */
import type { TreeNode } from '../runtime/supervisor-tree.js';

export function treeLines(node: TreeNode, depth = 0): string[] {
  const pad = '  '.repeat(depth);
  const restarts = node.restarts > 0 ? `, ${node.restarts} restart${node.restarts === 1 ? '' : 's'}` : '';
  const line = `${pad}${node.kind === 'supervisor' ? '▸' : '•'} ${node.id}  ${node.state} (incarnation ${node.incarnation}${restarts})`;
  return [line, ...(node.children ?? []).flatMap((c) => treeLines(c, depth + 1))];
}
