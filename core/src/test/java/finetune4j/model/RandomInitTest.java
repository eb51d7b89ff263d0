package finetune4j.model;

import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.Weight;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class RandomInitTest {
    @Test
    void valuesDoNotDependOnHowTheRangeIsCut() {
        int n = RandomInit.BLOCK * 2 + 123;
        float[] whole = new float[n];
        RandomInit.normal(99, 0.02, 0, whole, n);
        float[] pieces = new float[n];
        float[] tmp = new float[1000];
        for (int off = 0; off < n; off += 1000) {
            int len = Math.min(1000, n - off);
            RandomInit.normal(99, 0.02, off, tmp, len);
            System.arraycopy(tmp, 0, pieces, off, len);
        }
        assertThat(pieces).isEqualTo(whole);
        float[] other = new float[n];
        RandomInit.normal(100, 0.02, 0, other, n);
        assertThat(other).isNotEqualTo(whole);
    }

    @Test
    void theInMemorySourceHoldsWhatWriteWrites(@TempDir Path tmp) {
        ModelConfig c = ModelPresets.config("stories260k");
        for (DType dt : new DType[]{DType.F32, DType.BF16}) {
            Path dir = tmp.resolve(dt.name());
            RandomInit.write(c, dir, 5, 0.02, dt, Long.MAX_VALUE);
            try (Arena arena = Arena.ofShared(); ModelWeights files = ModelWeights.open(dir)) {
                WeightSource mem = RandomInit.source(c, 5, 0.02, dt, arena);
                for (Object[] e : RandomInit.tensorList(c)) {
                    String name = (String) e[0];
                    assertThat(mem.shape(name)).as(name).isEqualTo(files.info(name).shape());
                    if (mem.shape(name).length == 1) {
                        assertThat(mem.floats(name)).as(name).isEqualTo(files.floats(name));
                        continue;
                    }
                    Weight a = mem.weight(name), b = files.weight(name);
                    assertThat(a.dtype()).isEqualTo(dt);
                    assertThat(a.data().asByteBuffer()).as(name + " " + dt).isEqualTo(b.data().asByteBuffer());
                }
            }
        }
    }
}
