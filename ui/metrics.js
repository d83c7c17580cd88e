/*
 * metrics.js — the popover benchmark's test hook (ui/README.md "Test hooks").
 *
 * window.nexusMetrics counts the deltas applied and the animation frames
 * that rendered them, and measures the longest gap between animation frames
 * from resetFrameWatch() until a while after the last delta. Off otherwise,
 * so an idle popover spins no animation loop.
 *
 * Exposes window.NexusMetrics = { create() } → { noteDelta(), noteFrame(deltasRendered) },
 * and create() sets window.nexusMetrics.
 */
(function () {
  'use strict';

  const FRAME_WATCH_IDLE_MS = 5000; // the frame watcher stops this long after the last delta

  function create() {
    let deltasSinceFrame = 0;

    const metrics = {
      deltas: 0,
      frames: 0,
      maxFrameGapMs: 0,
      resetFrameWatch: function () {
        frameWatch.reset();
      },
    };
    window.nexusMetrics = metrics;

    const frameWatch = {
      armed: false,
      running: false,
      last: 0,
      until: 0,
      reset: function () {
        metrics.maxFrameGapMs = 0;
        this.armed = true;
        this.until = performance.now() + FRAME_WATCH_IDLE_MS;
        this.start();
      },
      noteDelta: function () {
        if (!this.armed) return;
        this.until = performance.now() + FRAME_WATCH_IDLE_MS;
        this.start();
      },
      start: function () {
        if (this.running) return;
        this.running = true;
        this.last = performance.now();
        requestAnimationFrame(tick);
      },
    };

    function tick() {
      const now = performance.now();
      metrics.maxFrameGapMs = Math.max(metrics.maxFrameGapMs, now - frameWatch.last);
      frameWatch.last = now;
      if (now < frameWatch.until) requestAnimationFrame(tick);
      else frameWatch.running = false;
    }

    return {
      /** A delta was applied to the conversation on screen. */
      noteDelta: function () {
        metrics.deltas++;
        deltasSinceFrame++;
        frameWatch.noteDelta();
      },
      /** A frame was drawn; `deltasRendered` says whether it showed streamed text. */
      noteFrame: function (deltasRendered) {
        if (deltasRendered && deltasSinceFrame > 0) {
          metrics.frames++;
          deltasSinceFrame = 0;
        }
      },
    };
  }

  window.NexusMetrics = { create: create };
})();
