package io.gaialite;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.MultiDocValues;
import org.apache.lucene.index.MultiTerms;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.util.BytesRef;

/**
 * Writes one field's postings and length norms as flat little-endian arrays that numpy maps without copying, so
 * that BM25 can be scored outside Lucene with Lucene's own arithmetic (gaia_lite/sparse/impacts.py).
 *
 * <p>Files in the output folder: {@code terms.txt} (the terms in Lucene's order, UTF-8, one a line),
 * {@code starts.i64} (where each term's postings start, one more than there are terms), {@code docs.i32} and
 * {@code freqs.i32} (each posting's Lucene docid and term frequency) and {@code norms.u8} (each document's encoded
 * length, 0 where it has no such field).
 */
public final class PostingsExport {
  private PostingsExport() {}

  /**
   * Export {@code field} of {@code reader} into {@code dir} and return {@code "terms postings docCount
   * sumTotalTermFreq maxDoc"}, the statistics BM25 reads besides the postings. Refuses an index with deleted
   * documents (Lucene's document frequencies count them until a merge) or a term holding a line break.
   */
  public static String export(IndexReader reader, String field, String dir) throws IOException {
    if (reader.hasDeletions()) {
      throw new IllegalArgumentException("the index has deleted documents");
    }
    Path out = Paths.get(dir);
    Files.createDirectories(out);
    int maxDoc = reader.maxDoc();
    long terms = 0;
    long postings = 0;
    Terms all = MultiTerms.getTerms(reader, field);
    try (OutputStream text = buffered(out.resolve("terms.txt"));
        LittleEndian starts = new LittleEndian(out.resolve("starts.i64"));
        LittleEndian docs = new LittleEndian(out.resolve("docs.i32"));
        LittleEndian freqs = new LittleEndian(out.resolve("freqs.i32"))) {
      starts.writeLong(0);
      if (all != null) {
        TermsEnum it = all.iterator();
        PostingsEnum pe = null;
        for (BytesRef term = it.next(); term != null; term = it.next()) {
          for (int i = term.offset; i < term.offset + term.length; i++) {
            if (term.bytes[i] == '\n') {
              throw new IllegalArgumentException("a term holds a line break");
            }
          }
          text.write(term.bytes, term.offset, term.length);
          text.write('\n');
          pe = it.postings(pe, PostingsEnum.FREQS);
          for (int doc = pe.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = pe.nextDoc()) {
            docs.writeInt(doc);
            freqs.writeInt(pe.freq());
            postings++;
          }
          starts.writeLong(postings);
          terms++;
        }
      }
    }
    byte[] norms = new byte[maxDoc];
    NumericDocValues values = MultiDocValues.getNormValues(reader, field);
    if (values != null) {
      for (int doc = values.nextDoc(); doc != DocIdSetIterator.NO_MORE_DOCS; doc = values.nextDoc()) {
        norms[doc] = (byte) values.longValue();
      }
    }
    Files.write(out.resolve("norms.u8"), norms);
    return terms + " " + postings + " " + reader.getDocCount(field) + " " + reader.getSumTotalTermFreq(field)
        + " " + maxDoc;
  }

  private static OutputStream buffered(Path path) throws IOException {
    return new BufferedOutputStream(Files.newOutputStream(path), 1 << 16);
  }

  /** A buffered stream of little-endian ints and longs. */
  private static final class LittleEndian implements AutoCloseable {
    private final OutputStream out;

    LittleEndian(Path path) throws IOException {
      out = buffered(path);
    }

    void writeInt(int v) throws IOException {
      out.write(v);
      out.write(v >>> 8);
      out.write(v >>> 16);
      out.write(v >>> 24);
    }

    void writeLong(long v) throws IOException {
      writeInt((int) v);
      writeInt((int) (v >>> 32));
    }

    @Override
    public void close() throws IOException {
      out.close();
    }
  }
}
