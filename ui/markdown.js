/*
 * markdown.js — a small Markdown renderer that builds DOM nodes.
 *
 * Agent text is untrusted, so every piece of it reaches the page through
 * createTextNode / textContent; no HTML string is ever parsed. Raw HTML in the
 * source shows as text. Links become <a href> only for http(s) URLs.
 *
 * Supported: paragraphs (single newlines are line breaks), ATX and setext
 * headings, emphasis, strong, strikethrough, inline code, fenced code blocks
 * with light syntax highlighting, bullet/numbered/task lists (nested), block
 * quotes, horizontal rules, pipe tables, links and bare URLs.
 *
 * Text is split into top-level "chunks" at blank lines (outside code fences,
 * and not inside a list). A chunk renders the same whether it is rendered
 * alone or as part of the whole text, which lets a streaming view re-render
 * only the chunk that is still growing (see MarkdownView in render.js).
 *
 * Exposes window.NexusMarkdown = { render, renderChunk, splitChunks,
 * newChunkScan, scanChunks, parseFencedChunk, createCodeBlock, highlight,
 * safeUrl }.
 */
(function () {
  'use strict';

  /** Nesting limit for block quotes / lists / inline emphasis; deeper input renders as text. */
  const MAX_DEPTH = 16;
  /** Code past this offset in a block is shown without highlighting (keeps rendering cheap). */
  const HIGHLIGHT_LIMIT = 40000;

  const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$/;
  const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
  const THEMATIC_BREAK = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
  const SETEXT_UNDERLINE = /^ {0,3}(=+|-+)[ \t]*$/;
  const BLOCKQUOTE = /^ {0,3}>/;
  const LIST_ITEM = /^( {0,3})([-*+]|(\d{1,9})[.)])([ \t]+|$)/;
  const TABLE_DELIMITER = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
  const TASK_MARKER = /^\[([ xX])\][ \t]+/;
  const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/;
  const BARE_URL = /\bhttps?:\/\/[^\s<>"'`]+/g;

  // ---------------------------------------------------------------- helpers

  function el(tag, className) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    return node;
  }

  function isBlank(line) {
    return line.trim() === '';
  }

  /** Width of the leading whitespace, a tab counting as 4 columns. */
  function indentWidth(line) {
    let width = 0;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === ' ') width += 1;
      else if (c === '\t') width += 4 - (width % 4);
      else break;
    }
    return width;
  }

  /** Removes up to `columns` columns of leading whitespace. */
  function dedent(line, columns) {
    let width = 0;
    let i = 0;
    while (i < line.length && width < columns) {
      const c = line[i];
      if (c === ' ') width += 1;
      else if (c === '\t') width += 4 - (width % 4);
      else break;
      i++;
    }
    return line.slice(i);
  }

  /** The URL as an absolute http(s) href, or null for anything else. */
  function safeUrl(raw) {
    if (typeof raw !== 'string' || raw.length > 4096) return null;
    let url;
    try {
      url = new URL(raw.trim());
    } catch (_) {
      return null;
    }
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  }

  function isFenceClose(line, fence) {
    const trimmed = line.replace(/^ {0,3}/, '');
    if (trimmed[0] !== fence[0]) return false;
    let run = 0;
    while (run < trimmed.length && trimmed[run] === fence[0]) run++;
    return run >= fence.length && trimmed.slice(run).trim() === '';
  }

  // ---------------------------------------------------------------- chunks

  /**
   * Could `text` at `pos` (a line start) be a closing fence for `fence`?
   * Checked without allocating: this runs for every line inside a code block.
   */
  function mayCloseFence(text, pos, fence) {
    let i = pos;
    while (i < pos + 3 && text.charCodeAt(i) === 32) i++;
    return text[i] === fence[0];
  }

  /** A fresh chunk scan of a text from its start. */
  function newChunkScan() {
    return { starts: [0], pos: 0, fence: null, chunkIsList: null, afterBlank: false };
  }

  /**
   * Finds the start offsets of the top-level chunks of `text`, continuing a
   * scan (newChunkScan() for a fresh one). A chunk ends at a blank line
   * outside a code fence, unless the next line is indented or continues a
   * list the chunk started.
   *
   * Returns { starts, resume }: `resume` is the scan as it stood at the start
   * of the last, possibly unfinished, line; scanning a longer text that
   * begins with this one can continue from there.
   */
  function scanChunks(text, scan) {
    const starts = scan.starts.slice();
    let fence = scan.fence;
    let chunkIsList = scan.chunkIsList; // decided by the chunk's first non-blank line
    let afterBlank = scan.afterBlank;
    let pos = scan.pos;
    let resume = null;
    while (pos < text.length) {
      let end = text.indexOf('\n', pos);
      if (end === -1) {
        resume = { starts: starts.slice(), pos: pos, fence: fence, chunkIsList: chunkIsList, afterBlank: afterBlank };
        end = text.length;
      }
      if (fence) {
        if (mayCloseFence(text, pos, fence) && isFenceClose(text.slice(pos, end), fence)) fence = null;
      } else {
        const line = text.slice(pos, end);
        if (isBlank(line)) {
          if (chunkIsList !== null) afterBlank = true;
        } else {
          if (afterBlank) {
            const continues = line[0] === ' ' || line[0] === '\t' || (chunkIsList && LIST_ITEM.test(line));
            if (!continues) {
              starts.push(pos);
              chunkIsList = null;
            }
            afterBlank = false;
          }
          if (chunkIsList === null) chunkIsList = LIST_ITEM.test(line);
          const open = FENCE_OPEN.exec(line);
          if (open) fence = open[1];
        }
      }
      pos = end + 1;
    }
    if (!resume) {
      resume = { starts: starts.slice(), pos: text.length, fence: fence, chunkIsList: chunkIsList, afterBlank: afterBlank };
    }
    return { starts: starts, resume: resume };
  }

  /** Start offsets of the top-level chunks of `text`. */
  function splitChunks(text) {
    return scanChunks(text, newChunkScan()).starts;
  }

  // ---------------------------------------------------------------- blocks

  /** Does `line` start a block that ends a paragraph? */
  function interruptsParagraph(line, nextLine) {
    if (FENCE_OPEN.test(line) || ATX_HEADING.test(line) || BLOCKQUOTE.test(line)) return true;
    if (THEMATIC_BREAK.test(line)) return true;
    const item = LIST_ITEM.exec(line);
    // Like CommonMark: an empty item, or a numbered one not starting at 1, does not interrupt.
    if (item && item[4] !== '' && (item[3] === undefined || item[3] === '1')) return true;
    return isTableStart(line, nextLine);
  }

  function isTableStart(line, nextLine) {
    return (
      nextLine !== undefined &&
      line.indexOf('|') !== -1 &&
      nextLine.indexOf('-') !== -1 &&
      TABLE_DELIMITER.test(nextLine) &&
      (nextLine.indexOf('|') !== -1 || line.trim().startsWith('|'))
    );
  }

  /** Renders `lines` as block elements appended to `parent`. */
  function renderBlocks(lines, parent, depth) {
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      if (isBlank(line)) {
        i++;
        continue;
      }
      if (depth > MAX_DEPTH) {
        // Pathologically deep nesting: show the rest as plain text.
        const p = el('p');
        p.textContent = lines.slice(i).join('\n');
        parent.appendChild(p);
        return;
      }

      const fence = FENCE_OPEN.exec(line);
      if (fence) {
        const fenceIndent = indentWidth(line);
        const code = [];
        i++;
        while (i < lines.length && !isFenceClose(lines[i], fence[1])) {
          code.push(dedent(lines[i], fenceIndent));
          i++;
        }
        i++; // the closing fence (or past the end while it is still streaming)
        parent.appendChild(codeBlock(code.join('\n'), fence[2]));
        continue;
      }

      const heading = ATX_HEADING.exec(line);
      if (heading) {
        parent.appendChild(headingElement(heading[1].length, heading[2] || '', depth));
        i++;
        continue;
      }

      if (THEMATIC_BREAK.test(line)) {
        parent.appendChild(el('hr'));
        i++;
        continue;
      }

      if (BLOCKQUOTE.test(line)) {
        const inner = [];
        while (i < lines.length && BLOCKQUOTE.test(lines[i])) {
          inner.push(lines[i].replace(/^ {0,3}> ?/, ''));
          i++;
        }
        const quote = el('blockquote');
        renderBlocks(inner, quote, depth + 1);
        parent.appendChild(quote);
        continue;
      }

      const item = LIST_ITEM.exec(line);
      if (item) {
        i = renderList(lines, i, parent, depth);
        continue;
      }

      if (isTableStart(line, lines[i + 1])) {
        i = renderTable(lines, i, parent, depth);
        continue;
      }

      // Paragraph (or a setext heading when underlined with === / ---).
      const paragraph = [line.trim()];
      i++;
      let setextLevel = 0;
      while (i < lines.length && !isBlank(lines[i])) {
        const underline = SETEXT_UNDERLINE.exec(lines[i]);
        if (underline) {
          setextLevel = underline[1][0] === '=' ? 1 : 2;
          i++;
          break;
        }
        if (interruptsParagraph(lines[i], lines[i + 1])) break;
        paragraph.push(lines[i].trim());
        i++;
      }
      if (setextLevel) {
        parent.appendChild(headingElement(setextLevel, paragraph.join(' '), depth));
      } else {
        const p = el('p');
        renderInline(paragraph.join('\n'), p, depth, false);
        parent.appendChild(p);
      }
    }
  }

  /** Markdown's h1..h6 become h3..h6: the page itself owns the top levels. */
  function headingElement(level, text, depth) {
    const h = el('h' + Math.min(level + 2, 6), 'md-h' + level);
    renderInline(text, h, depth, false);
    return h;
  }

  /** Renders the list starting at lines[start]; returns the index after it. */
  function renderList(lines, start, parent, depth) {
    const first = LIST_ITEM.exec(lines[start]);
    const ordered = first[3] !== undefined;
    const marker = ordered ? first[2].slice(-1) : first[2];
    const list = el(ordered ? 'ol' : 'ul');
    if (ordered) {
      const startNumber = parseInt(first[3], 10);
      if (startNumber !== 1) list.start = startNumber;
    }

    const items = [];
    let current = null;
    let loose = false;
    let i = start;
    while (i < lines.length) {
      const line = lines[i];
      if (isBlank(line)) {
        // A blank line stays in the list only if the list goes on after it.
        let next = i + 1;
        while (next < lines.length && isBlank(lines[next])) next++;
        if (next >= lines.length) break;
        const nextLine = lines[next];
        const nextItem = LIST_ITEM.exec(nextLine);
        const continuesItem = current && indentWidth(nextLine) >= current.indent;
        const nextSibling = nextItem && sameListKind(nextItem, ordered, marker);
        if (!continuesItem && !nextSibling) break;
        loose = true;
        for (; i < next; i++) current.lines.push('');
        continue;
      }
      if (current && indentWidth(line) >= current.indent) {
        current.lines.push(dedent(line, current.indent));
        i++;
        continue;
      }
      const item = LIST_ITEM.exec(line);
      if (item) {
        if (!sameListKind(item, ordered, marker)) break;
        const indent = item[4].length > 4 ? item[1].length + item[2].length + 1 : item[0].length;
        current = { indent: Math.max(indent, item[1].length + item[2].length + 1), lines: [line.slice(item[0].length)] };
        items.push(current);
        i++;
        continue;
      }
      // Lazy continuation of the item's paragraph.
      const previous = current.lines[current.lines.length - 1];
      if (previous !== undefined && !isBlank(previous) && !interruptsParagraph(line, lines[i + 1])) {
        current.lines.push(line.trim());
        i++;
        continue;
      }
      break;
    }

    for (const item of items) {
      const li = el('li');
      let itemLines = item.lines;
      const task = TASK_MARKER.exec(itemLines[0]);
      if (task) {
        li.className = 'task';
        const box = el('span', 'task-box');
        box.textContent = task[1] === ' ' ? '\u2610 ' : '\u2611 ';
        li.appendChild(box);
        itemLines = [itemLines[0].slice(task[0].length)].concat(itemLines.slice(1));
      }
      renderBlocks(itemLines, li, depth + 1);
      if (!loose) unwrapParagraphs(li);
      list.appendChild(li);
    }
    parent.appendChild(list);
    return i;
  }

  function sameListKind(item, ordered, marker) {
    const itemOrdered = item[3] !== undefined;
    if (itemOrdered !== ordered) return false;
    return ordered ? item[2].slice(-1) === marker : item[2] === marker;
  }

  /** Tight lists show their paragraphs without <p> margins. */
  function unwrapParagraphs(li) {
    for (const child of Array.from(li.children)) {
      if (child.tagName === 'P') {
        while (child.firstChild) li.insertBefore(child.firstChild, child);
        li.removeChild(child);
      }
    }
  }

  function splitTableRow(line) {
    let row = line.trim();
    if (row.startsWith('|')) row = row.slice(1);
    if (row.endsWith('|') && !row.endsWith('\\|')) row = row.slice(0, -1);
    const cells = [];
    let cell = '';
    for (let i = 0; i < row.length; i++) {
      if (row[i] === '\\' && row[i + 1] === '|') {
        cell += '|';
        i++;
      } else if (row[i] === '|') {
        cells.push(cell.trim());
        cell = '';
      } else {
        cell += row[i];
      }
    }
    cells.push(cell.trim());
    return cells;
  }

  function renderTable(lines, start, parent, depth) {
    const header = splitTableRow(lines[start]);
    const alignments = splitTableRow(lines[start + 1]).map(function (spec) {
      const left = spec.startsWith(':');
      const right = spec.endsWith(':');
      return left && right ? 'center' : right ? 'right' : left ? 'left' : '';
    });
    const table = el('table');
    const thead = el('thead');
    const headRow = el('tr');
    header.forEach(function (text, column) {
      const th = el('th');
      th.scope = 'col';
      if (alignments[column]) th.className = 'align-' + alignments[column];
      renderInline(text, th, depth + 1, false);
      headRow.appendChild(th);
    });
    thead.appendChild(headRow);
    table.appendChild(thead);

    const tbody = el('tbody');
    let i = start + 2;
    while (i < lines.length && !isBlank(lines[i]) && lines[i].indexOf('|') !== -1) {
      const cells = splitTableRow(lines[i]);
      const tr = el('tr');
      for (let column = 0; column < header.length; column++) {
        const td = el('td');
        if (alignments[column]) td.className = 'align-' + alignments[column];
        renderInline(cells[column] || '', td, depth + 1, false);
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
      i++;
    }
    table.appendChild(tbody);

    // Wide tables scroll sideways; the wrapper is focusable so keyboards can scroll it.
    const wrap = el('div', 'table-wrap');
    wrap.tabIndex = 0;
    wrap.appendChild(table);
    parent.appendChild(wrap);
    return i;
  }

  // ---------------------------------------------------------------- code blocks

  function normalizeLang(rawLang) {
    return (rawLang || '').toLowerCase().replace(/[^a-z0-9_+#.-]/g, '').slice(0, 32);
  }

  /**
   * A code block whose code can grow: { rawLang, view: CodeView, element }.
   * <div class="code-block"> with a header (language, Copy) and a <pre>.
   */
  function createCodeBlock(rawLang) {
    const lang = normalizeLang(rawLang);
    const view = new CodeView(lang);
    const block = el('div', 'code-block');
    const head = el('div', 'code-head');
    const label = el('span', 'code-lang');
    label.textContent = lang || 'text';
    const copy = el('button', 'copy');
    copy.type = 'button';
    copy.setAttribute('aria-label', 'Copy code');
    copy.textContent = 'Copy';
    head.appendChild(label);
    head.appendChild(copy);
    const pre = el('pre');
    pre.appendChild(view.element);
    block.appendChild(head);
    block.appendChild(pre);
    return { rawLang: rawLang || '', view: view, element: block };
  }

  function codeBlock(code, rawLang) {
    const block = createCodeBlock(rawLang);
    block.view.update(code);
    return block.element;
  }

  /**
   * If a chunk is nothing but one fenced code block (closed or still open),
   * its { lang, code } — exactly what renderBlocks would put in the block.
   */
  function parseFencedChunk(source) {
    const firstEnd = source.indexOf('\n');
    const firstLine = firstEnd === -1 ? source : source.slice(0, firstEnd);
    const fence = FENCE_OPEN.exec(firstLine);
    if (!fence) return null;
    const fenceIndent = indentWidth(firstLine);
    if (firstEnd === -1) return { lang: fence[2], code: '' };
    // Find the closing fence line without splitting the (possibly huge) source.
    let close = -1;
    let pos = firstEnd + 1;
    while (pos <= source.length) {
      let end = source.indexOf('\n', pos);
      if (end === -1) end = source.length;
      if (mayCloseFence(source, pos, fence[1]) && isFenceClose(source.slice(pos, end), fence[1])) {
        close = pos;
        if (source.slice(end).trim() !== '') return null; // more than the code block
        break;
      }
      pos = end + 1;
    }
    const body = close === -1 ? source.slice(firstEnd + 1) : source.slice(firstEnd + 1, Math.max(firstEnd + 1, close - 1));
    if (fenceIndent === 0) return { lang: fence[2], code: body };
    return { lang: fence[2], code: body.split('\n').map((line) => dedent(line, fenceIndent)).join('\n') };
  }

  // ---------------------------------------------------------------- inline

  /**
   * Renders inline Markdown from `text` into `parent`. `noLinks` is set inside
   * link labels (no nested links).
   */
  function renderInline(text, parent, depth, noLinks) {
    if (depth > MAX_DEPTH) {
      parent.appendChild(document.createTextNode(text));
      return;
    }
    let plain = '';
    // Closers known to be absent from a position on: searching again from a
    // later position cannot succeed, which keeps unmatched `*` runs linear.
    const missingFrom = Object.create(null);

    function flush() {
      if (!plain) return;
      if (noLinks) parent.appendChild(document.createTextNode(plain));
      else appendLinkified(plain, parent);
      plain = '';
    }

    function findCloser(delimiter, from, mustNotFollowWord) {
      if (missingFrom[delimiter] !== undefined && from >= missingFrom[delimiter]) return -1;
      let at = from;
      for (;;) {
        at = text.indexOf(delimiter, at);
        if (at === -1) {
          missingFrom[delimiter] = from;
          return -1;
        }
        const before = text[at - 1];
        const after = text[at + delimiter.length];
        const single = delimiter.length === 1;
        const ok =
          at > from &&
          !/\s/.test(before) &&
          !(single && (after === delimiter || before === delimiter)) &&
          !(mustNotFollowWord && after !== undefined && /[\p{L}\p{N}]/u.test(after));
        if (ok) return at;
        at += 1;
      }
    }

    let i = 0;
    const n = text.length;
    while (i < n) {
      const c = text[i];

      if (c === '\\' && i + 1 < n) {
        const next = text[i + 1];
        if (next === '\n') {
          flush();
          parent.appendChild(el('br'));
          i += 2;
          continue;
        }
        if (ASCII_PUNCTUATION.test(next)) {
          plain += next;
          i += 2;
          continue;
        }
      }

      if (c === '\n') {
        flush();
        parent.appendChild(el('br'));
        i++;
        continue;
      }

      if (c === '`') {
        let run = 1;
        while (text[i + run] === '`') run++;
        const fence = '`'.repeat(run);
        let close = text.indexOf(fence, i + run);
        while (close !== -1 && text[close + run] === '`') {
          // A longer run is not a closer; skip past it.
          let skip = close;
          while (text[skip] === '`') skip++;
          close = text.indexOf(fence, skip);
        }
        if (close === -1) {
          plain += fence;
          i += run;
          continue;
        }
        let content = text.slice(i + run, close).replace(/\n/g, ' ');
        if (content.length > 2 && content[0] === ' ' && content[content.length - 1] === ' ' && content.trim()) {
          content = content.slice(1, -1);
        }
        flush();
        const code = el('code');
        code.textContent = content;
        parent.appendChild(code);
        i = close + run;
        continue;
      }

      if (c === '*' || c === '_' || c === '~') {
        let run = 1;
        while (text[i + run] === c) run++;
        const prev = text[i - 1];
        const next = text[i + run];
        const opens =
          next !== undefined &&
          !/\s/.test(next) &&
          !(c === '_' && prev !== undefined && /[\p{L}\p{N}]/u.test(prev));
        let handled = false;
        if (opens) {
          // Try the longest delimiter first: *** → strong+em, ** → strong, * → em.
          const tries = c === '~' ? (run >= 2 ? [2] : []) : run >= 3 ? [3, 2, 1] : run === 2 ? [2, 1] : [1];
          for (const size of tries) {
            const delimiter = c.repeat(size);
            const close = findCloser(delimiter, i + size, c === '_');
            if (close === -1) continue;
            flush();
            let outer;
            let inner;
            if (c === '~') {
              outer = inner = el('del');
            } else if (size === 3) {
              outer = el('strong');
              inner = el('em');
              outer.appendChild(inner);
            } else {
              outer = inner = el(size === 2 ? 'strong' : 'em');
            }
            // Markers of a longer run beyond `size` stay inside as literal text.
            renderInline(text.slice(i + size, close), inner, depth + 1, noLinks);
            parent.appendChild(outer);
            i = close + size;
            handled = true;
            break;
          }
        }
        if (!handled) {
          plain += c.repeat(run);
          i += run;
        }
        continue;
      }

      if (c === '[' || (c === '!' && text[i + 1] === '[')) {
        const image = c === '!';
        const link = parseLink(text, image ? i + 1 : i);
        if (link) {
          flush();
          appendLink(link, parent, depth, noLinks, image);
          i = link.end;
          continue;
        }
      }

      if (c === '<') {
        const auto = /^<(https?:\/\/[^\s<>]+)>/.exec(text.slice(i, i + 2100));
        if (auto) {
          flush();
          appendUrl(auto[1], auto[1], parent, noLinks);
          i += auto[0].length;
          continue;
        }
      }

      plain += c;
      i++;
    }
    flush();
  }

  /** Parses `[label](destination "title")` starting at text[start] === '['. */
  function parseLink(text, start) {
    let depth = 0;
    let i = start;
    const limit = Math.min(text.length, start + 2000);
    for (; i < limit; i++) {
      const c = text[i];
      if (c === '\\') {
        i++;
      } else if (c === '[') {
        depth++;
      } else if (c === ']') {
        depth--;
        if (depth === 0) break;
      } else if (c === '\n' && text[i + 1] === '\n') {
        return null;
      }
    }
    if (depth !== 0 || text[i + 1] !== '(') return null;
    const label = text.slice(start + 1, i);
    let j = i + 2;
    while (text[j] === ' ') j++;
    let destination = '';
    if (text[j] === '<') {
      const close = text.indexOf('>', j);
      if (close === -1) return null;
      destination = text.slice(j + 1, close);
      j = close + 1;
    } else {
      let parens = 0;
      const begin = j;
      for (; j < text.length && j < begin + 4096; j++) {
        const c = text[j];
        if (c === ' ' || c === '\n' || c === '\t') break;
        if (c === '(') parens++;
        else if (c === ')') {
          if (parens === 0) break;
          parens--;
        }
      }
      destination = text.slice(begin, j);
    }
    while (text[j] === ' ') j++;
    if (text[j] === '"' || text[j] === "'") {
      const close = text.indexOf(text[j], j + 1);
      if (close === -1) return null;
      j = close + 1;
      while (text[j] === ' ') j++;
    }
    if (text[j] !== ')') return null;
    return { label: label, destination: destination, end: j + 1 };
  }

  function appendLink(link, parent, depth, noLinks, image) {
    const href = noLinks ? null : safeUrl(link.destination);
    const target = href ? el('a') : el('span', 'link-text');
    if (href) {
      target.href = href;
      target.rel = 'noopener noreferrer';
    }
    if (image) {
      // No remote images (the CSP forbids them anyway): show the alt text.
      target.textContent = link.label || link.destination;
      if (href) target.className = 'image-link';
    } else {
      renderInline(link.label, target, depth + 1, true);
    }
    if (!target.firstChild) target.textContent = link.destination;
    parent.appendChild(target);
  }

  function appendUrl(url, label, parent, noLinks) {
    const href = noLinks ? null : safeUrl(url);
    if (!href) {
      parent.appendChild(document.createTextNode(label));
      return;
    }
    const a = el('a');
    a.href = href;
    a.rel = 'noopener noreferrer';
    a.textContent = label;
    parent.appendChild(a);
  }

  /** Appends plain text, turning bare http(s) URLs into links. */
  function appendLinkified(text, parent) {
    if (text.indexOf('http') === -1) {
      parent.appendChild(document.createTextNode(text));
      return;
    }
    BARE_URL.lastIndex = 0;
    let last = 0;
    let match;
    while ((match = BARE_URL.exec(text)) !== null) {
      let url = match[0];
      // Trailing punctuation belongs to the sentence, not the URL (keep balanced parens).
      for (;;) {
        const tail = url[url.length - 1];
        if (/[.,;:!?'"*_]/.test(tail)) url = url.slice(0, -1);
        else if (tail === ')' && count(url, '(') < count(url, ')')) url = url.slice(0, -1);
        else break;
      }
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      appendUrl(url, url, parent, false);
      last = match.index + url.length;
      BARE_URL.lastIndex = last;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function count(text, ch) {
    let n = 0;
    for (let i = 0; i < text.length; i++) if (text[i] === ch) n++;
    return n;
  }

  // ---------------------------------------------------------------- highlighting

  function words(list) {
    return new Set(list.split(' '));
  }

  const JS_KEYWORDS =
    'async await break case catch class const continue debugger default delete do else export extends ' +
    'finally for from function get if import in instanceof let new of return set static super switch this ' +
    'throw try typeof var void while with yield';
  const TS_KEYWORDS =
    JS_KEYWORDS + ' abstract as declare enum implements interface keyof namespace private protected public readonly type';

  /** Per-language lexical rules; `generic` covers everything else C-like. */
  const LANGUAGES = {
    rust: {
      lineComment: ['//'],
      blockComment: true,
      quotes: '"',
      charLiterals: true,
      keywords: words(
        'as async await break const continue crate dyn else enum extern fn for if impl in let loop match mod move ' +
          'mut pub ref return self Self static struct super trait type unsafe use where while'
      ),
      literals: words('true false None Some Ok Err'),
    },
    js: {
      lineComment: ['//'],
      blockComment: true,
      quotes: '"\'`',
      keywords: words(JS_KEYWORDS),
      literals: words('true false null undefined NaN Infinity'),
    },
    ts: {
      lineComment: ['//'],
      blockComment: true,
      quotes: '"\'`',
      keywords: words(TS_KEYWORDS),
      literals: words('true false null undefined NaN Infinity'),
    },
    python: {
      lineComment: ['#'],
      quotes: '"\'',
      tripleQuotes: true,
      keywords: words(
        'and as assert async await break class continue def del elif else except finally for from global if ' +
          'import in is lambda match nonlocal not or pass raise return try while with yield case'
      ),
      literals: words('True False None self'),
    },
    sh: {
      lineComment: ['#'],
      hashNeedsSpace: true,
      quotes: '"\'',
      multilineStrings: true,
      variables: true,
      keywords: words(
        'if then else elif fi for while until do done case esac in function return export local readonly ' +
          'set unset shift exit break continue source alias sudo echo cd'
      ),
      literals: words('true false'),
    },
    json: {
      quotes: '"',
      propertyKeys: true,
      keywords: new Set(),
      literals: words('true false null'),
    },
    generic: {
      lineComment: ['//'],
      blockComment: true,
      quotes: '"\'`',
      keywords: words(
        'if else elif for while do return break continue switch case default function func fn def class struct ' +
          'enum interface impl trait import export from package use module namespace public private protected ' +
          'static const let var val mut new delete try catch finally throw throws async await yield match type ' +
          'extends implements void int long float double bool boolean char string go defer select where'
      ),
      literals: words('true false null nil None True False undefined'),
    },
  };
  const HASH_COMMENT_LANGS = words('toml yaml yml ini conf dockerfile makefile ruby rb perl r nix cmake');
  LANGUAGES.hash = Object.assign({}, LANGUAGES.generic, { lineComment: ['#'], blockComment: false });

  const LANGUAGE_ALIASES = {
    rs: 'rust',
    javascript: 'js',
    jsx: 'js',
    mjs: 'js',
    cjs: 'js',
    node: 'js',
    typescript: 'ts',
    tsx: 'ts',
    py: 'python',
    python3: 'python',
    bash: 'sh',
    shell: 'sh',
    zsh: 'sh',
    console: 'sh',
    shellsession: 'sh',
    jsonc: 'json',
    json5: 'json',
  };

  function languageRules(lang) {
    const name = LANGUAGE_ALIASES[lang] || lang;
    if (LANGUAGES[name]) return LANGUAGES[name];
    if (HASH_COMMENT_LANGS.has(name)) return LANGUAGES.hash;
    return LANGUAGES.generic;
  }

  /** Fenced blocks in these languages (and unlabelled ones) are shown as plain text. */
  const PLAIN_LANGS = words('text txt plain plaintext log output md markdown');

  const IDENTIFIER = /[A-Za-z_$][\w$]*/y;
  const NUMBER = /(?:0[xX][\da-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?)[A-Za-z\d_]*/y;
  const SHELL_VARIABLE = /\$(?:\{[^}\n]*\}|[A-Za-z_]\w*|[0-9@#?*$!-])/y;
  const RUST_CHAR = /'(?:\\.[^'\n]{0,8}|[^\\'\n])'/y;

  function isIdentifierStart(code) {
    return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === 36;
  }

  function isWordChar(code) {
    return isIdentifierStart(code) || (code >= 48 && code <= 57);
  }

  /**
   * Splits `code` into tokens, calling emit(kind, text) with kind one of kw,
   * str, com, num, lit, prop, var (or null for plain text). Returns true when
   * the code ends inside a multi-line string or comment. Never throws;
   * unterminated strings and comments run to the end of the line or code.
   */
  function tokenize(code, rules, emit) {
    const n = code.length;
    let plainStart = 0;
    let open = false;
    let i = 0;
    const token = function (kind, end) {
      if (plainStart < i) emit(null, code.slice(plainStart, i));
      emit(kind, code.slice(i, end));
      i = end;
      plainStart = end;
    };
    while (i < n) {
      const c = code[i];
      const cc = code.charCodeAt(i);

      if (rules.blockComment && c === '/' && code[i + 1] === '*') {
        const close = code.indexOf('*/', i + 2);
        if (close === -1) open = true;
        token('com', close === -1 ? n : close + 2);
        continue;
      }
      if (rules.lineComment && startsLineComment(code, i, rules)) {
        const newline = code.indexOf('\n', i);
        token('com', newline === -1 ? n : newline);
        continue;
      }
      if (rules.variables && c === '$') {
        SHELL_VARIABLE.lastIndex = i;
        const variable = SHELL_VARIABLE.exec(code);
        if (variable) {
          token('var', i + variable[0].length);
          continue;
        }
      }
      if (rules.charLiterals && c === "'") {
        RUST_CHAR.lastIndex = i;
        const literal = RUST_CHAR.exec(code);
        if (literal) token('str', i + literal[0].length);
        else i++; // a lifetime such as 'a
        continue;
      }
      if (rules.quotes.indexOf(c) !== -1) {
        const end = stringEnd(code, i, rules);
        if (end < 0) open = true;
        const stop = end < 0 ? n : end;
        token(rules.propertyKeys && /^\s*:/.test(code.slice(stop, stop + 64)) ? 'prop' : 'str', stop);
        continue;
      }
      const previous = i > 0 ? code.charCodeAt(i - 1) : 0;
      if (cc >= 48 && cc <= 57 && !isWordChar(previous)) {
        NUMBER.lastIndex = i;
        token('num', i + NUMBER.exec(code)[0].length);
        continue;
      }
      if (isIdentifierStart(cc) && !isWordChar(previous)) {
        IDENTIFIER.lastIndex = i;
        const word = IDENTIFIER.exec(code)[0];
        if (rules.keywords.has(word)) token('kw', i + word.length);
        else if (rules.literals.has(word)) token('lit', i + word.length);
        else i += word.length;
        continue;
      }
      i++;
    }
    if (plainStart < n) emit(null, code.slice(plainStart));
    return open;
  }

  /** Diffs are coloured by line: additions, deletions and hunk headers. */
  function tokenizeDiff(code, emit) {
    let start = 0;
    while (start < code.length) {
      let end = code.indexOf('\n', start);
      end = end === -1 ? code.length : end + 1;
      const line = code.slice(start, end);
      let kind = null;
      if (line.startsWith('+++') || line.startsWith('---') || line.startsWith('@@')) kind = 'meta';
      else if (line[0] === '+') kind = 'ins';
      else if (line[0] === '-') kind = 'del';
      emit(kind, line);
      start = end;
    }
    return false;
  }

  function startsLineComment(code, i, rules) {
    for (const marker of rules.lineComment) {
      if (code.startsWith(marker, i)) {
        if (marker === '#' && rules.hashNeedsSpace && i > 0 && !/\s/.test(code[i - 1])) return false;
        return true;
      }
    }
    return false;
  }

  /** Index just past the string literal opening at code[start]; -1 when a multi-line one is still open at the end. */
  function stringEnd(code, start, rules) {
    const quote = code[start];
    if (rules.tripleQuotes && code.startsWith(quote + quote + quote, start)) {
      const close = code.indexOf(quote + quote + quote, start + 3);
      return close === -1 ? -1 : close + 3;
    }
    const multiline = quote === '`' || rules.multilineStrings;
    const escapes = !(rules.variables && quote === "'"); // shell '…' has no escapes
    for (let i = start + 1; i < code.length; i++) {
      const c = code[i];
      if (escapes && c === '\\') i++;
      else if (c === quote) return i + 1;
      else if (c === '\n' && !multiline) return i;
    }
    return multiline ? -1 : code.length;
  }

  /** The tokenizer for a language: null for plain text. */
  function tokenizerFor(lang) {
    if (!lang || PLAIN_LANGS.has(lang)) return null;
    if (lang === 'diff' || lang === 'patch') return tokenizeDiff;
    const rules = languageRules(lang);
    return function (code, emit) {
      return tokenize(code, rules, emit);
    };
  }

  // ---------------------------------------------------------------- code rendering

  /*
   * Code is rendered in line groups, each a block-level <span class="code-group">.
   * A group ends at a line end once it has CODE_GROUP_LINES lines or
   * CODE_GROUP_CHARS characters, and only where the highlighter is not inside
   * a multi-line string or comment. Groups depend only on the text from their
   * start, so a code block that is still streaming can keep its finished
   * groups and re-render just the last one — and ends up exactly as a full
   * render would draw it. Appending a group relayouts only that group.
   */
  const CODE_GROUP_LINES = 24;
  const CODE_GROUP_CHARS = 2048;
  const CODE_GROUP_RETRIES = 16; // give up waiting for a multi-line token to close

  /** End of the group starting at `start`, or -1 if it runs to the end of `code` unsealed. */
  function codeGroupEnd(code, start, tokenizer) {
    let lines = 0;
    let retries = 0;
    let position = start;
    for (;;) {
      const newline = code.indexOf('\n', position);
      if (newline === -1) return -1;
      lines++;
      position = newline + 1;
      if (lines >= CODE_GROUP_LINES || position - start >= CODE_GROUP_CHARS) {
        if (!tokenizer || retries >= CODE_GROUP_RETRIES) return position;
        if (!tokenizer(code.slice(start, position), function () {})) return position;
        retries++;
      }
    }
  }

  function codeGroupElement(text, tokenizer) {
    const group = el('span', 'code-group');
    if (!tokenizer) {
      group.textContent = text;
      return group;
    }
    tokenizer(text, function (kind, piece) {
      if (kind) {
        const span = el('span', 'tok-' + kind);
        span.textContent = piece;
        group.appendChild(span);
      } else {
        group.appendChild(document.createTextNode(piece));
      }
    });
    return group;
  }

  /**
   * A <code> element showing code in `lang` that can be updated as the code
   * grows: update(code) re-renders only from the first unfinished group.
   */
  class CodeView {
    constructor(lang) {
      this.lang = lang;
      this.element = el('code', 'language-' + (lang.replace(/[^a-z0-9_-]/g, '') || 'text'));
      this.code = '';
      this.sealedEnd = 0; // text before this offset is in finished groups
      this.tail = null; // the unfinished last group
    }

    update(code) {
      if (code.length < this.sealedEnd || !code.startsWith(this.code.slice(0, this.sealedEnd))) {
        this.element.replaceChildren();
        this.sealedEnd = 0;
        this.tail = null;
      }
      if (this.tail) {
        this.tail.remove();
        this.tail = null;
      }
      const tokenizerAt = (offset) => (offset < HIGHLIGHT_LIMIT ? tokenizerFor(this.lang) : null);
      let start = this.sealedEnd;
      while (start < code.length) {
        const tokenizer = tokenizerAt(start);
        const end = codeGroupEnd(code, start, tokenizer);
        const group = codeGroupElement(code.slice(start, end === -1 ? code.length : end), tokenizer);
        this.element.appendChild(group);
        if (end === -1) {
          this.tail = group;
          break;
        }
        start = end;
        this.sealedEnd = end;
      }
      this.code = code;
      return this;
    }
  }

  /** Highlights `code` as `lang` into a fragment (line groups of token spans). */
  function highlight(code, lang) {
    const view = new CodeView(lang || '').update(code);
    const fragment = document.createDocumentFragment();
    while (view.element.firstChild) fragment.appendChild(view.element.firstChild);
    return fragment;
  }

  // ---------------------------------------------------------------- entry points

  /** Renders one chunk (a slice of the text between chunk starts). */
  function renderChunk(source) {
    const fragment = document.createDocumentFragment();
    renderBlocks(source.split('\n'), fragment, 0);
    return fragment;
  }

  /** Renders a whole Markdown text into a DocumentFragment. */
  function render(text) {
    const source = typeof text === 'string' ? text.replace(/\r\n?/g, '\n') : '';
    const fragment = document.createDocumentFragment();
    const starts = splitChunks(source);
    for (let k = 0; k < starts.length; k++) {
      const end = k + 1 < starts.length ? starts[k + 1] : source.length;
      fragment.appendChild(renderChunk(source.slice(starts[k], end)));
    }
    return fragment;
  }

  window.NexusMarkdown = {
    render: render,
    renderChunk: renderChunk,
    splitChunks: splitChunks,
    newChunkScan: newChunkScan,
    scanChunks: scanChunks,
    parseFencedChunk: parseFencedChunk,
    createCodeBlock: createCodeBlock,
    highlight: highlight,
    safeUrl: safeUrl,
  };
})();
