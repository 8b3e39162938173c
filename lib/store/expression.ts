/**
 * A small builder for DynamoDB update and condition expressions: placeholders for every name and
 * value (no reserved-word surprises), clauses collected by kind, conditions kept as named parts so
 * each reads on its own.
 */

export interface BuiltUpdate {
  UpdateExpression: string;
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

export interface BuiltCondition {
  ConditionExpression: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

export class Expr {
  private readonly names: Record<string, string> = {};
  private readonly values: Record<string, unknown> = {};
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];
  private readonly conditions: string[] = [];
  private nextValue = 0;

  /** `#name` for an attribute (or map key); safe for any spelling. */
  n(attr: string): string {
    const placeholder = `#${attr.replace(/[^A-Za-z0-9_]/g, '_')}`;
    const taken = this.names[placeholder];
    if (taken !== undefined && taken !== attr) {
      let i = 2;
      while (this.names[`${placeholder}_${i}`] !== undefined && this.names[`${placeholder}_${i}`] !== attr) i++;
      this.names[`${placeholder}_${i}`] = attr;
      return `${placeholder}_${i}`;
    }
    this.names[placeholder] = attr;
    return placeholder;
  }

  /** A document path: `p('c', 'i3')` → `#c.#i3`; list elements as numbers: `p('q', 0)` → `#q[0]`. */
  p(...parts: (string | number)[]): string {
    let out = '';
    for (const part of parts) {
      if (typeof part === 'number') out += `[${part}]`;
      else out += out ? `.${this.n(part)}` : this.n(part);
    }
    return out;
  }

  /** `:vN` for a value. */
  v(value: unknown): string {
    const placeholder = `:v${this.nextValue++}`;
    this.values[placeholder] = value;
    return placeholder;
  }

  set(path: string, valueExpr: string): this {
    this.sets.push(`${path} = ${valueExpr}`);
    return this;
  }

  /** SET path = :value */
  setValue(path: string, value: unknown): this {
    return this.set(path, this.v(value));
  }

  remove(...paths: string[]): this {
    this.removes.push(...paths);
    return this;
  }

  add(path: string, value: number): this {
    this.adds.push(`${path} ${this.v(value)}`);
    return this;
  }

  /** A condition clause; all clauses must hold. */
  when(clause: string): this {
    this.conditions.push(`(${clause})`);
    return this;
  }

  get hasUpdates(): boolean {
    return this.sets.length + this.removes.length + this.adds.length > 0;
  }

  update(): BuiltUpdate {
    const parts: string[] = [];
    if (this.sets.length) parts.push(`SET ${this.sets.join(', ')}`);
    if (this.removes.length) parts.push(`REMOVE ${this.removes.join(', ')}`);
    if (this.adds.length) parts.push(`ADD ${this.adds.join(', ')}`);
    return {
      UpdateExpression: parts.join(' '),
      ...(this.conditions.length ? { ConditionExpression: this.conditions.join(' AND ') } : {}),
      ...this.placeholders(),
    };
  }

  /** The names and values used so far (for a Query's key condition and filter). */
  placeholders(): { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> } {
    return {
      ...(Object.keys(this.names).length ? { ExpressionAttributeNames: { ...this.names } } : {}),
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: { ...this.values } } : {}),
    };
  }

  condition(): BuiltCondition {
    return { ConditionExpression: this.conditions.join(' AND '), ...this.placeholders() };
  }
}
