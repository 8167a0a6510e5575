import QRCode from 'qrcode';

export type QrFormat = 'svg' | 'png';

// M (15% recovery) survives a scuffed phone screen or a creased print; a code of ~300 characters
// still fits a version a phone camera reads at arm's length.
const ERROR_CORRECTION = 'M';
const QUIET_ZONE_MODULES = 4;
const PNG_PIXELS_PER_MODULE = 8;

/** The QR image of a ticket code. */
export async function renderQr(code: string, format: QrFormat): Promise<string | Buffer> {
  if (format === 'png') {
    return QRCode.toBuffer(code, {
      type: 'png',
      errorCorrectionLevel: ERROR_CORRECTION,
      margin: QUIET_ZONE_MODULES,
      scale: PNG_PIXELS_PER_MODULE,
    });
  }
  return QRCode.toString(code, { type: 'svg', errorCorrectionLevel: ERROR_CORRECTION, margin: QUIET_ZONE_MODULES });
}

/**
 * The format an Accept header asks for: PNG only when it prefers image/png to SVG (by q-value,
 * SVG winning ties), SVG otherwise, including when there is no Accept header or it says *∕*.
 */
export function qrFormatFor(accept: string | undefined): QrFormat {
  if (!accept) return 'svg';
  const quality = (type: string): number => {
    let best = 0;
    let bestSpecificity = -1;
    for (const range of accept.split(',')) {
      const [mediaRange, ...params] = range.trim().toLowerCase().split(';');
      const media = mediaRange.trim();
      const specificity = media === type ? 2 : media === 'image/*' ? 1 : media === '*/*' ? 0 : -1;
      if (specificity < 0 || specificity < bestSpecificity) continue;
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const value = q ? Number(q.slice(2)) : 1;
      best = specificity > bestSpecificity ? value : Math.max(best, value);
      bestSpecificity = specificity;
    }
    return Number.isFinite(best) ? best : 0;
  };
  return quality('image/png') > quality('image/svg+xml') ? 'png' : 'svg';
}
